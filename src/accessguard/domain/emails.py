"""What makes two spellings of an email the same account and the same lockout counter."""

from __future__ import annotations

import unicodedata


def normalise_email(address: str) -> str:
    """The stored spelling, where mail goes: trimmed, NFC, domain lower-cased (the local part
    is kept). Not NFKC: folding can turn a valid address into another one, or into several
    (a small full-width comma or at sign becomes a real one). Accounts are created only for
    addresses that folding leaves alone (`is_plain`), so the mailbox mailed is the one the key
    denotes."""
    local, _, domain = unicodedata.normalize("NFC", address.strip()).rpartition("@")
    return f"{local}@{domain.lower()}"


def is_plain(address: str) -> bool:
    """Whether the address has no width or compatibility variants (full-width letters, small
    punctuation, ligatures) that its key folds away. An account registered under such a
    spelling would claim the plain address's key while its mail went somewhere else."""
    nfc = unicodedata.normalize("NFC", address.strip())
    return unicodedata.normalize("NFKC", nfc) == nfc


def email_key(address: str) -> str:
    """Identity of an address: case, width and compatibility variants collapse to one key."""
    return fold_case(unicodedata.normalize("NFKC", normalise_email(address)))


def fold_case(text: str) -> str:
    """Case variants of each character collapse (capital and small sharp s, the three
    sigmas), but no character becomes two: full case folding turns `ß` into `ss`, and
    straße@ and strasse@ are two mailboxes (as straße.de and strasse.de are two domains
    under IDNA 2008). This is Unicode's simple case folding, composed again afterwards: a
    capital with no precomposed form (`J` + caron) folds to a letter that has one (`ǰ`)."""
    if text.isascii():
        return text.lower()
    folded = "".join(f if len(f := char.casefold()) == 1 else char.lower() for char in text)
    return unicodedata.normalize("NFC", folded)
