"""The password policy refuses, besides breached passwords, what NIST SP 800-63B-4 §3.1.1.2
names: repetitive or sequential characters and context words (the email, the service)."""

from __future__ import annotations

import pytest

from accessguard.domain.errors import PasswordTooCommon
from accessguard.domain.passwords import PasswordPolicy

POLICY = PasswordPolicy(min_length=15, max_length=128)


@pytest.mark.parametrize(
    "password",
    [
        " " * 15,
        "\u00a0" * 15,  # no-break spaces (NFKC makes them spaces)
        "\u200b" * 15,  # zero-width spaces
        "z" * 20,
        "ab" * 10,
        "abcabcabcabcabcabc",
        "1a2b1a2b1a2b1a2b",
        "abcdefghijklmnopq",
        "9876543210987654"[:10] + "     ",
        "AaAaAaAaAaAaAaAa",
    ],
)
def test_repetitive_or_sequential_passwords_are_too_common(password: str) -> None:
    with pytest.raises(PasswordTooCommon):
        POLICY.check(password)


@pytest.mark.parametrize(
    "password",
    [
        "ada.lovelace@example.com",
        "Ada.Lovelace 2024!",
        "ADA LOVELACE accessguard",
        "accessguard accessguard",
    ],
)
def test_passwords_made_mostly_of_the_email_or_the_service_name_are_too_common(
    password: str,
) -> None:
    with pytest.raises(PasswordTooCommon):
        POLICY.check(password, "ada.lovelace@example.com")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse trading desk 42",
        "ünïcödé pässwörd 🦊 long enough",
        "my friend ada.lovelace sings at dawn",  # the email, but mostly something else
        "🦊🐻🐼🦊🐻🐼🐨🦁🐯🐮🐷🐸🐵🐔🐧",
    ],
)
def test_ordinary_long_passwords_are_accepted(password: str) -> None:
    assert POLICY.check(password, "ada.lovelace@example.com")
