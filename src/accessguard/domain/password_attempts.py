"""One password attempt under the lockout, the same wherever a password is typed with an
email: the sign-in form and the lost-device request form.

Both read the account, the known device and the lock state before hashing, and count a
wrong password the same way, so neither form is a side door for guessing past the other's
lockout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accessguard.domain.devices import KnownDevices
from accessguard.domain.errors import AccessError, AccountLocked, InvalidCredentials
from accessguard.domain.lockout import Lockout, device_subject, email_subject, locked_refusal
from accessguard.domain.model import (
    Account,
    AttemptFromDevice,
    AuditEvent,
    ClientInfo,
    Device,
    LockState,
    SecondFactors,
)
from accessguard.domain.ports import UnitOfWorkFactory
from accessguard.domain.rules import Rules


@dataclass(frozen=True)
class PasswordAttempt:
    """What is known before the hash: the account (None for an unknown email) and its second
    factors, the client's known device, whose counter the attempt uses, and that counter's
    lock."""

    account: Account | None
    device: Device | None
    subject: str
    lock: LockState
    factors: SecondFactors

    @property
    def account_id(self) -> str | None:
        return self.account.id if self.account else None

    def locked(self, now: datetime) -> AccountLocked | None:
        return locked_refusal(self.lock, now)


class PasswordAttempts:
    def __init__(
        self, rules: Rules, uow: UnitOfWorkFactory, lockout: Lockout, devices: KnownDevices
    ) -> None:
        self._rules = rules
        self._uow = uow
        self._lockout = lockout
        self._devices = devices

    def read(self, email_key: str, device_token: str | None, now: datetime) -> PasswordAttempt:
        email = email_subject(email_key)
        token_digest = self._devices.digest_of(device_token)
        with self._uow(read_only=True) as uow:
            if token_digest is None:
                account, factors, email_lock = uow.accounts.for_password_attempt(email_key, email)
                return PasswordAttempt(account, None, email, email_lock, factors)
            read = uow.accounts.for_password_attempt_from_device(email_key, email, token_digest)
        return self.attempt_from_device(email, read, now)

    def attempt_from_device(
        self, email: str, read: AttemptFromDevice, now: datetime
    ) -> PasswordAttempt:
        """The attempt from a client that brought a device token, by what was read with the
        account (`AttemptFromDevice`). The email's lock is the one used unless the token is
        the account's unexpired device: a known device counts its own failures, so a
        stranger's failures on the email do not lock it out, and its own lock only itself
        (OWASP's device-cookie scheme)."""
        account, factors, email_lock, found = read
        account_id = account.id if account else None
        device = self._devices.usable(found[0] if found else None, account_id, now)
        if found is None or device is None:
            return PasswordAttempt(account, None, email, email_lock, factors)
        return PasswordAttempt(account, device, device_subject(device.id), found[1], factors)

    def refuse(
        self,
        attempt: PasswordAttempt,
        kind: str,
        client: ClientInfo,
        now: datetime,
        *,
        count: bool = True,
    ) -> AccessError:
        """Count a wrong password (unless `count` is off: failures racing this attempt
        already reached the threshold), lock when it reaches the threshold, audit it as
        `kind`, and return the refusal to give."""
        failures = self._rules.lockout_threshold + 1
        too_many = None
        if count:
            counted = self._lockout.count_failure(attempt.subject, attempt.lock, client.ip, now)
            failures = counted.subject
            # A wrong password past its address's limit (parallel ones all passed the check
            # before the hash) says no more than a refusal for the limit would have.
            too_many = self._lockout.address_refusal(counted.address - 1, client.ip, now)
        with self._uow(deferred_writes=True) as uow:
            locked = self._lockout.lock_if_reached(
                uow.lockouts, attempt.subject, attempt.lock, failures, now
            )
            refusal: AccessError = too_many or locked or InvalidCredentials()
            detail = None
            if (
                too_many is None
                and locked is not None
                and failures == self._rules.lockout_threshold
            ):
                # The attempt that locks was a wrong password and is answered as one (the
                # contract: `invalid_credentials` for a wrong password), saying until when the
                # lock now holds; `account_locked` answers from the next attempt on, as it
                # would after the same attempts made one by one.
                detail = {"locked_until": locked.facts["locked_until"]}
                refusal = InvalidCredentials(**detail)
            event = _event(kind, refusal.code.value, attempt.account_id, client, now, detail)
            uow.audit.record(event)
        return refusal

    def audit(
        self, kind: str, outcome: str, account_id: str | None, client: ClientInfo, now: datetime
    ) -> None:
        with self._uow(deferred_writes=True) as uow:
            uow.audit.record(_event(kind, outcome, account_id, client, now))


def _event(
    kind: str,
    outcome: str,
    account_id: str | None,
    client: ClientInfo,
    now: datetime,
    detail: dict[str, str] | None = None,
) -> AuditEvent:
    ua = client.user_agent[:300]
    return AuditEvent(now, kind, outcome, account_id, client.ip, ua, detail or {})
