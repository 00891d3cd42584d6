"""A one-time code as the customer typed it: what counts as the same six digits."""

from __future__ import annotations

import unicodedata


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
