"""Recovery codes: ten single-use look-up secrets that stand in for a lost second factor.

NIST SP 800-63B (rev. 3) §5.1.2.2: look-up secrets under 112 bits of entropy are stored salted
and hashed with a key-derivation function, and their use is rate-limited (the sign-in's
lockout). Each code carries 50 bits, so each is hashed with Argon2id. One random salt per set
(in every row) keeps a try at one hash, compared with each stored digest.
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2.low_level import Type, hash_secret_raw

from accessguard.domain.errors import (
    AccessError,
    InvalidMfaCode,
    RecoveryCodesReplaced,
    RecoveryCodeUsed,
)
from accessguard.domain.hashing import on_hashing_thread
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Message, SecondFactors
from accessguard.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from accessguard.domain.tokens import digest

# Crockford's base 32: no i, l, o or u, so nothing written down reads two ways.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_MISREAD = str.maketrans("ilo", "110")
CODE_LENGTH = 10  # 50 bits
CODES_PER_SET = 10
# What a code was spent on, as the owner's email names it: a code spent on removing a factor
# is no sign-in, and the owner must not be told it was.
SIGN_IN, APP_REMOVAL, PHONE_REMOVAL = "sign_in", "app_removal", "phone_removal"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    """A code as the owner reads it: `xxxxx-xxxxx`."""
    return f"{code[:5]}-{code[5:]}"


def looks_like_a_recovery_code(typed: str) -> bool:
    """Ten letters and digits, as printed: never a 6-digit code from an app or a text."""
    return normalise(typed) is not None


def normalise(typed: str) -> str | None:
    """The code as hashed, whatever the case, spaces, dashes and misread letters; None when it
    cannot be a code at all."""
    folded = unicodedata.normalize("NFKC", typed).lower().translate(_MISREAD)
    code = "".join(ch for ch in folded if not ch.isspace() and ch != "-")
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


class RecoveryCodeHasher:
    """Argon2id with the service's password parameters, as a raw digest under a given salt."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._params = {
            "time_cost": time_cost,
            "memory_cost": memory_kib,
            "parallelism": parallelism,
        }

    def digest(self, code: str, salt: str) -> str:
        # On the hashing threads, like passwords: one hash per core, in warm memory.
        raw = on_hashing_thread(
            lambda: hash_secret_raw(
                code.encode(), bytes.fromhex(salt), hash_len=32, type=Type.ID, **self._params
            )
        )
        return raw.hex()


@dataclass(frozen=True)
class StoredCodes:
    """An account's set: its salt and the digests of its unused and used codes."""

    salt: str
    unused: tuple[str, ...]
    used: tuple[str, ...]


def set_name(stored: StoredCodes | None) -> str:
    """Names one set, unlike any other (each has a salt of its own): "none" for no set."""
    return digest("recovery-codes:" + stored.salt)[:16] if stored else "none"


def _holds(digests: Iterable[str], candidate: str) -> bool:
    # Every digest is compared, so the time taken says nothing about which one matched.
    found = False
    for stored in digests:
        found |= hmac.compare_digest(stored, candidate)
    return found


@dataclass(frozen=True)
class IssuedCodes:
    """A fresh set: `codes` are shown once; only the salt and digests are stored."""

    codes: list[str]
    salt: str
    digests: list[str]

    def store(
        self, uow: UnitOfWork, account_id: str, now: datetime, *, replacing: str | None = None
    ) -> None:
        """Replace the account's set inside the caller's transaction: old codes are void.
        Replacements of one account's set take turns: two at once would each delete only
        the rows they saw and leave both sets, under a salt only one was hashed with. With
        `replacing` (a `set_name`), `RecoveryCodesReplaced` unless that set is the one there."""
        uow.accounts.lock(account_id)
        if replacing is not None and replacing != set_name(uow.recovery_codes.stored(account_id)):
            raise RecoveryCodesReplaced()
        uow.recovery_codes.replace(account_id, self.salt, self.digests, now)


def owner_notice(
    account: Account, template: str, client: ClientInfo | None, now: datetime, **data: Any
) -> Message:
    """An email telling the owner about a change to their second factors."""
    facts = {
        "anti_phishing_phrase": account.anti_phishing_phrase,
        "at": now.isoformat(timespec="minutes"),
        **data,
    }
    if client is not None:
        facts |= {"ip": client.ip, "user_agent": client.user_agent[:200]}
    return Message("email", account.email, template, facts, account.id)


def owner_event(account_id: str, kind: str, client: ClientInfo | None, now: datetime) -> AuditEvent:
    if client is None:
        return AuditEvent(now, kind, "success", account_id)
    return AuditEvent(now, kind, "success", account_id, client.ip, client.user_agent[:300])


class RecoveryCodes:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: RecoveryCodeHasher,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher

    def issue(self) -> IssuedCodes:
        """A new set, hashed here (outside any transaction: Argon2 must not hold locks)."""
        codes: set[str] = set()
        while len(codes) < CODES_PER_SET:  # one salt per set, so codes must differ
            codes.add(new_code())
        salt = secrets.token_hex(16)
        digests = [self._hasher.digest(code, salt) for code in codes]
        return IssuedCodes([shown(code) for code in codes], salt, digests)

    def left(self, account_id: str) -> int:
        with self._uow(read_only=True) as uow:
            return uow.recovery_codes.count_unused(account_id)

    def current_set(self, account_id: str) -> str:
        """A name for the account's present set, for a form to say which set it replaces."""
        with self._uow(read_only=True) as uow:
            return set_name(uow.recovery_codes.stored(account_id))

    def use(self, account_id: str, typed: str, *, used_for: str) -> None:
        """Spend one unused code on `used_for` (`SIGN_IN`, …), which the owner's email names.
        `InvalidMfaCode` when it is none of the account's codes (its `attempts_left` is the
        caller's to fill in), `RecoveryCodeUsed` when already spent."""
        code = normalise(typed)
        with self._uow(read_only=True) as uow:
            stored = uow.recovery_codes.stored(account_id)
        if code is None or stored is None:
            raise InvalidMfaCode(attempts_left=0)
        candidate = self._hasher.digest(code, stored.salt)
        if not _holds(stored.unused, candidate):
            if _holds(stored.used, candidate):
                raise RecoveryCodeUsed()
            raise InvalidMfaCode(attempts_left=0)
        now = self._clock.now()
        with self._uow() as uow:
            if not uow.recovery_codes.consume(account_id, candidate, now):
                raise RecoveryCodeUsed()  # a parallel request spent it first
            account = uow.accounts.get(account_id)
            if account is not None:
                left = uow.recovery_codes.count_unused(account_id)
                notice = owner_notice(
                    account, "recovery_code_used", None, now, codes_left=left, used_for=used_for
                )
                uow.outbox.add(notice, now)
            uow.audit.record(owner_event(account_id, "recovery_code_used", None, now))

    def stand_in(self, account_id: str, typed: str, *, used_for: str) -> AccessError | None:
        """A recovery code typed in place of a lost device's code to remove that device (NIST
        SP 800-63B-4 names saved codes as a way to bind a replacement): None when it was an
        unused code, now spent; else the refusal to give. Judged on its own, so a device
        secret that cannot be read stands in no one's way."""
        try:
            self.use(account_id, typed, used_for=used_for)
        except (InvalidMfaCode, RecoveryCodeUsed) as refused:
            return refused
        return None


class RecoveryCodeFactor:
    """The `SecondFactor` port for recovery codes in the two-step sign-in."""

    method = "recovery_code"

    def __init__(self, codes: RecoveryCodes) -> None:
        self.codes = codes

    def enabled_in(self, factors: SecondFactors) -> bool:
        # Codes stand in for an app or a phone; alone they would be a factor of their own.
        return factors.recovery_codes_left > 0 and (factors.totp or factors.sms)

    def code_problem(self, code: str) -> str | None:
        if not code.strip():
            return "is required"
        if normalise(code) is None:
            return (
                f"must be one of your recovery codes: {CODE_LENGTH} letters and digits, "
                "such as abcde-12345"
            )
        return None

    def verify_sign_in(self, account_id: str, code: str, challenge: str) -> None:
        # Codes are not bound to a challenge: each is spent once, whichever sign-in used it.
        self.codes.use(account_id, code, used_for=SIGN_IN)
