"""Codes typed in another script's digits are the same code; a signature in odd text is
refused, not a crash."""

from __future__ import annotations

import pytest

from accessguard.domain.codes import is_six_digits, typed_code
from accessguard.domain.tokens import Signer

ARABIC_INDIC = "".join(chr(0x0661 + i) for i in range(6))  # what an Arabic keyboard types
DEVANAGARI = "".join(chr(0x0967 + i) for i in range(6))
FULLWIDTH = "".join(chr(0xFF11 + i) for i in range(6))


@pytest.mark.parametrize(
    "typed",
    [
        "123456",
        "123 456",
        ARABIC_INDIC,
        DEVANAGARI,
        "\u00b9\u00b2\u00b3\u2074\u2075\u2076",
        FULLWIDTH,
    ],
)
def test_every_script_s_digits_type_the_same_code(typed: str) -> None:
    assert typed_code(typed) == "123456"
    assert is_six_digits(typed_code(typed))


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", ARABIC_INDIC[:3] + "abc", ""])
def test_what_is_not_six_digits_is_no_code(typed: str) -> None:
    assert not is_six_digits(typed_code(typed))


def test_a_signature_in_non_ascii_text_is_refused_not_a_crash() -> None:
    signer = Signer([b"k" * 32])
    assert signer.unsign("value.\u00e9\u00e9") is None
    assert signer.unsign(signer.sign("value")) == "value"
