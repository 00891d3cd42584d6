"""Authenticator apps (RFC 6238: SHA-1, 6 digits, 30-second steps): enrol, confirm, verify,
remove. Seeds are sealed by a `SecretBox`; replay protection is an atomic claim of the step."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp

from accessguard.domain.errors import (
    AccessError,
    Forbidden,
    InvalidCredentials,
    InvalidMfaCode,
    MfaCodeReused,
    NotFound,
    TotpClockDrift,
)
from accessguard.domain.lockout import Lockout
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Message
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import (
    AuditLog,
    Clock,
    PasswordHasher,
    SecretBox,
    UnitOfWorkFactory,
)
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Authenticated

ISSUER = "accessguard"
STEP_SECONDS = 30
WINDOW_STEPS = 1  # accepted: the current step and one either side
DRIFT_STEPS = 30  # recognised as a wrong device clock: up to ±15 minutes


@dataclass(frozen=True)
class TotpCredential:
    """A sealed seed; active once confirmed. No code of `last_step` or earlier counts again."""

    account_id: str
    sealed_secret: str
    created_at: datetime
    confirmed_at: datetime | None = None
    last_step: int = -1

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def time_step(at: datetime) -> int:
    return pyotp.TOTP("A" * 32).timecode(at)


def _offsets() -> Iterator[int]:
    # Nearest first, so a code valid now is never reported as drift.
    yield 0
    for distance in range(1, DRIFT_STEPS + 1):
        yield distance
        yield -distance


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step within ±DRIFT_STEPS whose code is `code`, nearest to now; None if none."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in _offsets():
        step = current + offset
        if step >= 0 and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def judge(secret: str, code: str, now: datetime, last_step: int, *, attempts_left: int) -> int:
    """The step to claim for `code`, or the refusal. A drifted match is returned too (it must
    be burnt so it never counts later); the caller raises `drift_of` after claiming it."""
    step = matching_step(secret, code, now)
    if step is None:
        raise InvalidMfaCode(attempts_left=attempts_left)
    if step <= last_step:
        raise MfaCodeReused()
    return step


def drift_of(step: int, now: datetime) -> TotpClockDrift | None:
    """The refusal for a code from a step outside the window; positive: the device is ahead."""
    offset = step - time_step(now)
    if abs(offset) <= WINDOW_STEPS:
        return None
    return TotpClockDrift(drift_seconds=offset * STEP_SECONDS)


def _email(account: Account, template: str, client: ClientInfo, now: datetime) -> Message:
    data = {
        "anti_phishing_phrase": account.anti_phishing_phrase,
        "ip": client.ip,
        "user_agent": client.user_agent[:200],
        "at": now.isoformat(timespec="minutes"),
    }
    return Message("email", account.email, template, data, account.id)


@dataclass(frozen=True)
class Totp:
    """Wrong codes while managing the app count toward the email's lockout only on removal
    (which also needs the password); confirming a seed this very session was shown has nothing
    to guard, so its `attempts_left` is always the full lockout threshold."""

    rules: Rules
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    box: SecretBox
    lockout: Lockout

    def enabled(self, account_id: str) -> bool:
        with self.uow(read_only=True) as uow:
            credential = uow.totp.get(account_id)
        return credential is not None and credential.active

    def start_enrolment(self, auth: Authenticated) -> Enrolment:
        """A new seed, pending until confirmed; an active one must be removed first."""
        secret = pyotp.random_base32()
        with self.uow() as uow:
            stored = uow.totp.put_pending(auth.account.id, self.box.seal(secret), self.clock.now())
        if not stored:
            raise Forbidden()
        uri = pyotp.TOTP(secret).provisioning_uri(name=auth.account.email, issuer_name=ISSUER)
        return Enrolment(secret=secret, otpauth_uri=uri)

    def confirm(self, auth: Authenticated, code: str, client: ClientInfo) -> None:
        account, now = auth.account, self.clock.now()
        credential = self._credential(account.id, active=False)
        step = judge(
            self.box.open(credential.sealed_secret),
            code,
            now,
            credential.last_step,
            attempts_left=self.rules.lockout_threshold,
        )
        refusal: AccessError | None = drift_of(step, now)
        with self.uow() as uow:
            if refusal is not None:
                uow.totp.claim_step(account.id, step)  # burnt: never accepted later
            elif uow.totp.activate(account.id, credential.sealed_secret, step, now):
                uow.outbox.add(_email(account, "totp_enabled", client, now), now)
                self._audit(uow.audit, account, "totp_enabled", client, now)
            else:
                refusal = MfaCodeReused()  # a parallel confirm won (or a new seed came)
        if refusal is not None:
            raise refusal

    def verify(self, account_id: str, code: str, *, attempts_left: int) -> None:
        """Accept a code of the active credential once; raise the catalogue's refusal else.
        `attempts_left` is what the caller's policy allows after this code if it is wrong."""
        now = self.clock.now()
        credential = self._credential(account_id, active=True)
        secret = self.box.open(credential.sealed_secret)
        step = judge(secret, code, now, credential.last_step, attempts_left=attempts_left)
        with self.uow() as uow:
            claimed = uow.totp.claim_step(account_id, step)
        refusal = drift_of(step, now) if claimed else MfaCodeReused()
        if refusal is not None:
            raise refusal

    def remove(self, auth: Authenticated, password: str, code: str, client: ClientInfo) -> None:
        account, now = auth.account, self.clock.now()

        def refusal() -> AccessError | None:
            if not self.hasher.verify(account.password_hash, prepare(password)):
                return InvalidCredentials()
            try:
                self.verify(account.id, code, attempts_left=0)
            except InvalidMfaCode as wrong:
                return wrong  # attempts_left is filled in from the lockout count
            return None

        self.lockout.guard_owner_secret(self.uow, account, client, now, "totp_removed", refusal)
        with self.uow() as uow:
            uow.totp.delete(account.id)
            hold = now + timedelta(seconds=self.rules.security_hold_seconds)
            uow.accounts.set_security_hold(account.id, hold)
            uow.outbox.add(_email(account, "totp_removed", client, now), now)
            self._audit(uow.audit, account, "totp_removed", client, now)

    def _credential(self, account_id: str, *, active: bool) -> TotpCredential:
        with self.uow(read_only=True) as uow:
            credential = uow.totp.get(account_id)
        if credential is None or credential.active != active:
            raise NotFound()
        return credential

    @staticmethod
    def _audit(
        audit: AuditLog,
        account: Account,
        kind: str,
        client: ClientInfo,
        now: datetime,
        outcome: str = "success",
    ) -> None:
        event = AuditEvent(now, kind, outcome, account.id, client.ip, client.user_agent[:300])
        audit.record(event)
