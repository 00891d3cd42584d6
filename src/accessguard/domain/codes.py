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
