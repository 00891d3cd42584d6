"""Password sign-in as explicit stages (docs/flows/signin.mermaid).

Hashing happens between two short transactions, so no database connection is held for the
~20 ms of Argon2 work, and the lock is re-checked after it so no attempt slips past a lock
set while it was hashing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from accessguard.domain.devices import KnownDevices
from accessguard.domain.emails import email_key
from accessguard.domain.errors import (
    AccessError,
    AccountLocked,
    EmailNotVerified,
)
from accessguard.domain.history import SECOND_STEP_DUE
from accessguard.domain.lockout import Lockout
from accessguard.domain.model import (
    Account,
    AuditEvent,
    Challenge,
    ClientInfo,
)
from accessguard.domain.password_attempts import PasswordAttempt, PasswordAttempts
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import (
    Clock,
    PasswordHasher,
    SecondFactor,
    ThrottleStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Sessions
from accessguard.domain.tokens import Signer, digest, new_token


@dataclass(frozen=True)
class SignedIn:
    """A session exists: the sign-in is complete."""

    account_id: str
    session_token: str
    session_expires_at: datetime
    device_token: str


@dataclass(frozen=True)
class SecondFactorDue:
    """The password was right; no session until one of `methods` accepts a code."""

    account_id: str
    mfa_token: str
    methods: tuple[str, ...]
    expires_at: datetime


SignInResult = SignedIn | SecondFactorDue
_KIND = "sign_in"


def binding_of(client: ClientInfo) -> str:
    """What ties a half-finished sign-in to the client that asked. Apps resend nothing else
    that is theirs (the contract's second step carries only the token and the code)."""
    return digest("user-agent:" + client.user_agent[:300])


class SignIn:
    def __init__(
        self,
        rules: Rules,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: PasswordHasher,
        throttle: ThrottleStore,
        sessions: Sessions,
        device_signer: Signer,
        factors: Sequence[SecondFactor] = (),
    ) -> None:
        self._rules = rules
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._lockout = Lockout(rules, throttle)
        self._sessions = sessions
        self._devices = KnownDevices(rules, device_signer)
        self._attempts = PasswordAttempts(rules, uow, self._lockout, self._devices)
        self._factors = tuple(factors)
        # Unknown emails are verified against this, so they cost the same time as real ones.
        self._dummy_hash = hasher.hash(uuid.uuid4().hex)

    def __call__(
        self, email: str, password: str, device_token: str | None, client: ClientInfo
    ) -> SignInResult:
        now = self._clock.now()
        key = email_key(email)
        try:
            self._lockout.check_address(client.ip, now)
        except AccessError as refusal:
            self._attempts.audit(_KIND, refusal.code.value, None, client, now)
            raise
        attempt = self._attempts.read(key, device_token, now)
        account = attempt.account
        locked = attempt.locked(now)
        if locked is not None:
            self._attempts.audit(_KIND, locked.code.value, attempt.account_id, client, now)
            raise locked
        matches = self._hasher.verify(
            account.password_hash if account else self._dummy_hash, prepare(password)
        )
        if not matches or account is None:
            raise self._attempts.refuse(attempt, _KIND, client, now)
        failures = self._lockout.failures(attempt.subject, attempt.lock, client.ip, now)
        too_many = self._lockout.address_refusal(failures.address, client.ip, now)
        if too_many is not None:
            # Failures racing this attempt from its address used up the address's limit
            # while it was hashing: a right password now would confirm one guess too many.
            self._attempts.audit(_KIND, too_many.code.value, account.id, client, now)
            raise too_many
        if self._lockout.threshold_reached(failures.subject):
            # Failures racing this attempt locked the subject while it was hashing.
            raise self._attempts.refuse(attempt, _KIND, client, now, count=False)
        # Nothing in it reads back its own writes, so on PostgreSQL they land as one statement.
        with self._uow(deferred_writes=True) as uow:
            outcome = self._succeed(uow, attempt, password, device_token, client, now)
            code = (
                outcome.code.value
                if isinstance(outcome, AccessError)
                else SECOND_STEP_DUE
                if isinstance(outcome, SecondFactorDue)
                else "success"
            )
            uow.audit.record(
                AuditEvent(now, _KIND, code, account.id, client.ip, client.user_agent[:300])
            )
        if isinstance(outcome, AccessError):
            raise outcome
        if isinstance(outcome, SignedIn) and failures.subject:
            # With a second factor due, the counter stays: a right password followed by wrong
            # codes must still reach the lock, or the password would buy endless guesses.
            # Most sign-ins follow no failure: nothing to reset, so no round trip. A failure
            # racing in after the read stays counted, as if it had come after the success.
            self._lockout.reset_counter(attempt.subject, attempt.lock)
        return outcome

    def _succeed(
        self,
        uow: UnitOfWork,
        attempt: PasswordAttempt,
        password: str,
        device_token: str | None,
        client: ClientInfo,
        now: datetime,
    ) -> AccessError | SignInResult:
        try:
            # A lock written by a racing failure while this attempt was hashing still holds.
            self._lockout.check_subject(uow.lockouts, attempt.subject, now)
        except AccountLocked as locked:
            return locked
        account = attempt.account
        assert account is not None  # noqa: S101 - only called after a match
        if self._hasher.needs_rehash(account.password_hash):
            # Only over the hash just checked: a reset racing this sign-in keeps its password.
            new_hash = self._hasher.hash(prepare(password))
            uow.accounts.replace_password(account.id, account.password_hash, new_hash)
        if not account.email_verified:
            return EmailNotVerified()
        # The factors were read with the account before the hash: a factor added while it ran
        # counts from the next sign-in, as if this one had begun a moment earlier.
        methods = tuple(f.method for f in self._factors if f.enabled_in(attempt.factors))
        if methods:
            return self._challenge(uow, attempt, account, methods, client, now)
        if attempt.lock.level:
            uow.lockouts.clear_level(attempt.subject)
        device_token = self._devices.remember(uow, account.id, attempt.device, device_token, now)
        token, session = self._sessions.start(uow, account.id, client, now)
        return SignedIn(account.id, token, session.expires_at, device_token)

    def _challenge(
        self,
        uow: UnitOfWork,
        attempt: PasswordAttempt,
        account: Account,
        methods: tuple[str, ...],
        client: ClientInfo,
        now: datetime,
    ) -> SecondFactorDue:
        plain, token_digest = new_token()
        expires = now + timedelta(seconds=self._rules.mfa_token_seconds)
        uow.challenges.add(
            Challenge(
                token_digest=token_digest,
                account_id=account.id,
                subject=attempt.subject,
                binding_digest=binding_of(client),
                device_id=attempt.device.id if attempt.device else None,
                created_at=now,
                expires_at=expires,
            )
        )
        return SecondFactorDue(account.id, plain, methods, expires)
