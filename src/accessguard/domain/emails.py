"""What makes two spellings of an email the same account and the same lockout counter."""

from __future__ import annotations

import unicodedata


def normalise_email(address: str) -> str:
    """The stored spelling, where mail goes: trimmed, NFKC, domain lower-cased (the local
    part's case is kept). NFKC, not NFC: the key folds width and compatibility variants, so the
    address mailed must be the folded one too. Stored as typed, a full-width spelling of ada@…
    would claim its key while every mail for that account went to a mailbox nobody reads."""
    local, _, domain = unicodedata.normalize("NFKC", address.strip()).rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(address: str) -> str:
    """Identity of an address: case, width and compatibility variants collapse to one key."""
    return unicodedata.normalize("NFKC", normalise_email(address)).casefold()
