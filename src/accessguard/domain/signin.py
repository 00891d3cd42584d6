"""Password sign-in as explicit stages (docs/flows/signin.mermaid).

Hashing happens between two short transactions, so no database connection is held for the
~20 ms of Argon2 work, and the lock is re-checked after it so no attempt slips past a lock
set while it was hashing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NoReturn

from accessguard.domain.emails import email_key
from accessguard.domain.errors import (
    AccessError,
    AccountLocked,
    EmailNotVerified,
    InvalidCredentials,
)
from accessguard.domain.lockout import Lockout, device_subject, email_subject
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Device, LockState
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import (
    Clock,
    PasswordHasher,
    ThrottleStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Sessions
from accessguard.domain.tokens import Signer, digest, new_token


class NextStep(StrEnum):
    DONE = "authenticated"
    MFA_REQUIRED = "mfa_required"


@dataclass(frozen=True)
class SignInResult:
    next_step: NextStep
    account_id: str
    session_token: str
    session_expires_at: datetime
    device_token: str


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
    ) -> None:
        self._rules = rules
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._lockout = Lockout(rules, throttle)
        self._sessions = sessions
        self._signer = device_signer
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
            code = outcome.code.value if isinstance(outcome, AccessError) else "success"
            uow.audit.record(
                AuditEvent(now, "sign_in", code, account.id, client.ip, client.user_agent[:300])
            )
        self._lockout.reset_counter(attempt.subject, attempt.lock)
        if isinstance(outcome, AccessError):
            raise outcome
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
            device = self._known_device(uow, account, device_token, now)
            subject = device_subject(device.id) if device else email_subject(key)
            try:
                lock = self._lockout.check_subject(uow.lockouts, subject, now)
            except AccountLocked as locked:
                return _Attempt(account, device, subject, LockState(), locked)
            return _Attempt(account, device, subject, lock)

    def _known_device(
        self, uow: UnitOfWork, account: Account | None, token: str | None, now: datetime
    ) -> Device | None:
        if account is None or not token:
            return None
        plain = self._signer.unsign(token)
        if plain is None:
            return None
        device = uow.devices.by_token_digest(digest(plain))
        if device is None or device.account_id != account.id or device.expires_at <= now:
            return None
        return device

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
        if attempt.lock.level:
            uow.lockouts.clear_level(attempt.subject)
        if self._hasher.needs_rehash(account.password_hash):
            uow.accounts.set_password(account.id, self._hasher.hash(prepare(password)))
        if not account.email_verified:
            return EmailNotVerified()
        device_token = self._remember_device(uow, attempt, device_token, now)
        token, session = self._sessions.start(uow, account.id, client, now)
        return SignInResult(NextStep.DONE, account.id, token, session.expires_at, device_token)

    def _remember_device(
        self, uow: UnitOfWork, attempt: _Attempt, device_token: str | None, now: datetime
    ) -> str:
        if attempt.device is not None and device_token:
            uow.devices.touch(attempt.device.id, now)
            return device_token
        assert attempt.account is not None  # noqa: S101 - only called after a match
        plain, token_digest = new_token()
        uow.devices.add(
            Device(
                str(uuid.uuid4()),
                attempt.account.id,
                now,
                now,
                now + timedelta(seconds=self._rules.device_max_seconds),
            ),
            token_digest,
        )
        return self._signer.sign(plain)

    def _audit(
        self, account_id: str | None, client: ClientInfo, now: datetime, outcome: str
    ) -> None:
        with self._uow() as uow:
            uow.audit.record(
                AuditEvent(now, "sign_in", outcome, account_id, client.ip, client.user_agent[:300])
            )
