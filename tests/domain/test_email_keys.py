"""Which spellings of an address are one account and one lockout counter, and which are two."""

from __future__ import annotations

import pytest

from accessguard.domain.emails import email_key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Ada@Example.COM", " ada@example.com "),
        ("STRAẞE@example.com", "straße@example.com"),  # capital and small sharp s
        ("ΟΔΟΣ@example.gr", "οδος@example.gr"),  # capital, small and final sigma
        ("\uff41da@example.com", "ada@example.com"),  # full-width a
        ("e\u0301@example.com", "\u00e9@example.com"),  # combining accent, precomposed
        ("J\u030cAN@example.com", "\u01f0an@example.com"),  # a capital with no precomposed form
        ("\u03aa\u0301@example.gr", "\u0390@example.gr"),  # the same, in Greek
    ],
)
def test_case_width_and_composition_variants_share_a_key(one: str, other: str) -> None:
    assert email_key(one) == email_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("straße@example.com", "strasse@example.com"),
        ("ada@straße.de", "ada@strasse.de"),  # two domains under IDNA 2008
    ],
)
def test_a_character_that_full_folding_turns_into_two_keeps_its_own_key(
    one: str, other: str
) -> None:
    assert email_key(one) != email_key(other)
