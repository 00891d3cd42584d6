"""What makes two spellings of an email the same account and the same lockout counter."""

from __future__ import annotations

import unicodedata


def normalise_email(address: str) -> str:
    """The stored spelling: trimmed, NFC, domain lower-cased (the local part is kept)."""
    local, _, domain = unicodedata.normalize("NFC", address.strip()).rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(address: str) -> str:
    """Identity of an address: case, width and compatibility variants collapse to one key."""
    return unicodedata.normalize("NFKC", normalise_email(address)).casefold()
