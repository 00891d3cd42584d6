"""A one-time code as the customer typed it: what counts as the same six digits."""

from __future__ import annotations

import unicodedata

from accessguard.domain.errors import ValidationFailed

APP = "your authenticator app shows"
TEXT = "of the code we texted you"


def typed_code(code: str) -> str:
    """Spaces dropped ("123 456", as people copy it) and every digit made ASCII: a phone set
    to Arabic or Devanagari, or a code pasted with superscripts, types the same number."""
    compact = "".join(unicodedata.normalize("NFKC", code).split())
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in compact)


def is_six_digits(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


def six_digit_problem(code: str, source: str) -> str | None:
    """What keeps `code` from being six digits sent by `source`, in words for the field's
    error; None when it may be one."""
    if not code.strip():
        return "is required"
    if not is_six_digits(typed_code(code)):
        return f"must be the 6 digits {source}"
    return None


def refuse_malformed(code: str, source: str) -> None:
    """Refuse a code that cannot be six digits from `source` as `validation_error` on the
    `code` field, before anything judges or counts it: a typo in its form (a letter, a digit
    short) must not bring the owner closer to a lock, as at the second step of a sign-in."""
    problem = six_digit_problem(code, source)
    if problem is not None:
        raise ValidationFailed(fields=[{"field": "code", "message": problem}])
