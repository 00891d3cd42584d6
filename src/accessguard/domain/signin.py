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
from typing import NoReturn

from accessguard.domain.devices import KnownDevices
from accessguard.domain.emails import email_key
from accessguard.domain.errors import (
    AccessError,
    AccountLocked,
    EmailNotVerified,
    InvalidCredentials,
)
from accessguard.domain.lockout import Lockout, device_subject, email_subject
from accessguard.domain.model import (
    Account,
    AuditEvent,
    Challenge,
    ClientInfo,
    Device,
    LockState,
)
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


def binding_of(client: ClientInfo) -> str:
    """What ties a half-finished sign-in to the client that asked. Apps resend nothing else
    that is theirs (the contract's second step carries only the token and the code)."""
    return digest("user-agent:" + client.user_agent[:300])


@dataclass(frozen=True)
class _Attempt:
    account: Account | None
    device: Device | None
    subject: str
    lock: LockState
    refusal: AccountLocked | None = None


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
            self._audit(None, client, now, refusal.code.value)
            raise
        attempt = self._read(key, device_token, now)
        account = attempt.account
        if attempt.refusal is not None:
            self._audit(account.id if account else None, client, now, attempt.refusal.code.value)
            raise attempt.refusal
        matches = self._hasher.verify(
            account.password_hash if account else self._dummy_hash, prepare(password)
        )
        if not matches or account is None:
            self._refuse_password(attempt, client, now)
        if self._lockout.threshold_reached(attempt.subject, attempt.lock, now):
            # Failures racing this attempt locked the subject while it was hashing.
            self._refuse_password(attempt, client, now, count=False)
        with self._uow() as uow:
            outcome = self._succeed(uow, attempt, password, device_token, client, now)
            code = (
                outcome.code.value
                if isinstance(outcome, AccessError)
                else "mfa_required"
                if isinstance(outcome, SecondFactorDue)
                else "success"
            )
            uow.audit.record(
                AuditEvent(now, "sign_in", code, account.id, client.ip, client.user_agent[:300])
            )
        if isinstance(outcome, AccessError):
            raise outcome
        if isinstance(outcome, SignedIn):
            # With a second factor due, the counter stays: a right password followed by wrong
            # codes must still reach the lock, or the password would buy endless guesses.
            self._lockout.reset_counter(attempt.subject, attempt.lock)
        return outcome

    def _refuse_password(
        self, attempt: _Attempt, client: ClientInfo, now: datetime, *, count: bool = True
    ) -> NoReturn:
        failures = (
            self._lockout.count_failure(attempt.subject, attempt.lock, client.ip, now)
            if count
            else self._rules.lockout_threshold + 1
        )
        with self._uow() as uow:
            refusal: AccessError = (
                self._lockout.lock_if_reached(
                    uow.lockouts, attempt.subject, attempt.lock, failures, now
                )
                or InvalidCredentials()
            )
            uow.audit.record(
                AuditEvent(
                    now,
                    "sign_in",
                    refusal.code.value,
                    attempt.account.id if attempt.account else None,
                    client.ip,
                    client.user_agent[:300],
                )
            )
        raise refusal

    def _read(self, key: str, device_token: str | None, now: datetime) -> _Attempt:
        with self._uow(read_only=True) as uow:
            account = uow.accounts.by_email_key(key)
            device = self._devices.recognise(
                uow, account.id if account else None, device_token, now
            )
            subject = device_subject(device.id) if device else email_subject(key)
            try:
                lock = self._lockout.check_subject(uow.lockouts, subject, now)
            except AccountLocked as locked:
                return _Attempt(account, device, subject, LockState(), locked)
            return _Attempt(account, device, subject, lock)

    def _succeed(
        self,
        uow: UnitOfWork,
        attempt: _Attempt,
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
            uow.accounts.set_password(account.id, self._hasher.hash(prepare(password)))
        if not account.email_verified:
            return EmailNotVerified()
        methods: tuple[str, ...] = ()
        if self._factors:
            present = uow.accounts.second_factors(account.id)
            methods = tuple(f.method for f in self._factors if f.enabled_in(present))
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
        attempt: _Attempt,
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

    def _audit(
        self, account_id: str | None, client: ClientInfo, now: datetime, outcome: str
    ) -> None:
        with self._uow() as uow:
            uow.audit.record(
                AuditEvent(now, "sign_in", outcome, account_id, client.ip, client.user_agent[:300])
            )
