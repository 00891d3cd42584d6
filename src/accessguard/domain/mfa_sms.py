"""Text-message codes as a second factor: add a number, change it, remove it, and the factor
the two-step sign-in uses.

Adding the first number needs only the signed-in session and a code sent to that number.
Changing or removing an active number needs the password and a current code (the
authenticator app's when there is one, else a code sent to the number in use), checked under
the email's lockout; both notify the owner and hold withdrawals for a while.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from accessguard.domain.codes import APP, TEXT, refuse_malformed, six_digit_problem
from accessguard.domain.errors import (
    AccessError,
    AppCodeRequired,
    InvalidCredentials,
    SmsCodeExpired,
    SmsNotSetUp,
    ValidationFailed,
)
from accessguard.domain.lockout import CODE_REFUSALS, Lockout, require_recent_sign_in
from accessguard.domain.mfa_totp import Totp
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Message, SecondFactors
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import (
    Clock,
    PasswordHasher,
    PhoneNumbers,
    UnitOfWork,
    UnitOfWorkFactory,
)
from accessguard.domain.recovery_codes import PHONE_REMOVAL, looks_like_a_recovery_code
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Authenticated
from accessguard.domain.sms_codes import SentCode, SmsCodes, masked


@dataclass(frozen=True)
class SmsCredential:
    """The account's number for sign-in codes, E.164. A number being added or changed to
    waits in its code's row until confirmed, so the active one keeps working meanwhile."""

    account_id: str
    phone: str
    created_at: datetime
    confirmed_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None


# Code owners. A change has its own owner, apart from a first enrolment, so a code asked for
# without proof (no number was active then) can never complete a change.
def enrol_owner(account_id: str) -> str:
    return "enrol:" + account_id


def change_owner(account_id: str) -> str:
    return "change:" + account_id


def manage_owner(account_id: str) -> str:
    """A code to the number in use, proving it before a change or a removal."""
    return "manage:" + account_id


def sign_in_owner(challenge: str) -> str:
    return "sign_in:" + challenge


def _active(uow: UnitOfWork, account_id: str) -> SmsCredential | None:
    credential = uow.sms.credential(account_id)
    return credential if credential is not None and credential.active else None


def _email(
    account: Account,
    template: str,
    phone: str,
    client: ClientInfo,
    now: datetime,
    hold_until: datetime | None = None,
) -> Message:
    data = {
        "hold_until": hold_until.isoformat(timespec="minutes") if hold_until else None,
        "anti_phishing_phrase": account.anti_phishing_phrase,
        "phone_ending": phone[-2:],
        "ip": client.ip,
        "user_agent": client.user_agent[:200],
        "at": now.isoformat(timespec="minutes"),
    }
    return Message("email", account.email, template, data, account.id)


def _audit(uow: UnitOfWork, account: Account, kind: str, client: ClientInfo, now: datetime) -> None:
    uow.audit.record(
        AuditEvent(now, kind, "success", account.id, client.ip, client.user_agent[:300])
    )


@dataclass(frozen=True)
class Sms:
    rules: Rules
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    phones: PhoneNumbers
    codes: SmsCodes
    totp: Totp
    lockout: Lockout

    def enabled(self, account_id: str) -> bool:
        with self.uow(read_only=True) as uow:
            return _active(uow, account_id) is not None

    def number_on_file(self, account_id: str) -> str | None:
        """The active number, masked: the number in full never leaves the domain, so a stolen
        session cannot learn where to aim a SIM swap."""
        with self.uow(read_only=True) as uow:
            current = _active(uow, account_id)
        return masked(current.phone) if current is not None else None

    def start(
        self,
        auth: Authenticated,
        phone: str,
        client: ClientInfo,
        *,
        password: str | None = None,
        code: str | None = None,
    ) -> SentCode:
        """Text a code to a number to add (or to change to, with the password and a current
        code when a number is active already). Adding a first number from a session signed in
        a while ago needs the password too."""
        number = self.phones.normalise(phone)
        account = auth.account
        with self.uow(read_only=True) as uow:
            current = _active(uow, account.id)
        owner = enrol_owner(account.id)
        if current is None:
            require_recent_sign_in(
                self.rules,
                self.uow,
                self.lockout,
                self.hasher,
                auth,
                password,
                client,
                self.clock.now(),
                "sms_enrolment",
            )
        else:
            owner = change_owner(account.id)
            # Waiting is refused before the proof is spent, which would have to be redone.
            self.codes.ensure_sendable(owner, account.id, number)
            self._prove_owner(account, password, code, client, "phone_changed")
        return self.codes.send(owner, account.id, number, "sms_enrol_code", client)

    def send_current_code(self, auth: Authenticated, client: ClientInfo) -> SentCode:
        """Text a code to the number in use, to prove it for a change or a removal."""
        account = auth.account
        # No phone first: an account with only an app has no number to text, which the
        # customer fixes by adding one, not a permission they lack.
        current = self._current(account.id)
        if self.totp.enabled(account.id):
            raise AppCodeRequired()  # the stronger factor proves the change, not a text
        return self.codes.send(
            manage_owner(account.id), account.id, current.phone, "sms_manage_code", client
        )

    def confirm(self, auth: Authenticated, code: str, client: ClientInfo) -> None:
        """Activate the number the code was sent to: a first number, or a change."""
        account = auth.account
        with self.uow(read_only=True) as uow:
            current = _active(uow, account.id)
        owner = enrol_owner(account.id) if current is None else change_owner(account.id)
        refuse_malformed(code, TEXT)
        proven = self.codes.check(owner, account.id, code)
        now = self.clock.now()
        with self.uow() as uow:
            hold = None  # a first number holds nothing: no factor was weakened
            if current is None:
                done, kind = uow.sms.add_confirmed(account.id, proven.phone, now), "sms_enabled"
            else:
                done, kind = uow.sms.replace_phone(account.id, proven.phone, now), "phone_changed"
                hold = now + timedelta(seconds=self.rules.security_hold_seconds)
                uow.accounts.set_security_hold(account.id, hold)
            if not done:  # removed or added meanwhile: this code no longer fits
                raise SmsCodeExpired()
            uow.outbox.add(_email(account, kind, proven.phone, client, now, hold), now)
            _audit(uow, account, kind, client, now)

    def remove(self, auth: Authenticated, password: str, code: str, client: ClientInfo) -> None:
        account = auth.account
        current = self._current(account.id)
        self._prove_owner(account, password, code, client, "sms_removed")
        now = self.clock.now()
        with self.uow() as uow:
            uow.sms.delete(account.id)
            # Recovery codes stand in for a second factor; with none left they would be one.
            uow.recovery_codes.delete_unless_second_factor(account.id)
            hold = now + timedelta(seconds=self.rules.security_hold_seconds)
            uow.accounts.set_security_hold(account.id, hold)
            notice = _email(account, "sms_removed", current.phone, client, now, hold)
            uow.outbox.add(notice, now)
            _audit(uow, account, "sms_removed", client, now)

    def _current(self, account_id: str) -> SmsCredential:
        with self.uow(read_only=True) as uow:
            current = _active(uow, account_id)
        if current is None:
            raise SmsNotSetUp()  # removed meanwhile, perhaps from another tab or device
        return current

    def _prove_owner(
        self,
        account: Account,
        password: str | None,
        code: str | None,
        client: ClientInfo,
        kind: str,
    ) -> None:
        """The password and a current code, under the email's lockout (as for the app);
        `ValidationFailed` on each one missing, a blank code included."""
        if code is not None and not code.strip():
            code = None  # a blank field is a code left out, not a malformed one
        if not password or not code:
            given = (("password", password), ("code", code))
            raise ValidationFailed(
                fields=[
                    {"field": name, "message": "needed while a number is active"}
                    for name, value in given
                    if not value
                ]
            )
        if not (kind == "sms_removed" and looks_like_a_recovery_code(code)):
            refuse_malformed(code, APP if self.totp.enabled(account.id) else TEXT)
        checked_password, checked_code = password, code

        def refusal() -> AccessError | None:
            if not self.hasher.verify(account.password_hash, prepare(checked_password)):
                return InvalidCredentials()
            if kind == "sms_removed" and looks_like_a_recovery_code(checked_code):
                # The phone is lost. Only a removal: a change texts the new number first, and
                # a code spent on a change that then fails at the gateway would be gone.
                return self.totp.recovery.stand_in(account.id, checked_code, used_for=PHONE_REMOVAL)
            try:
                self._check_current_code(account.id, checked_code)
            except CODE_REFUSALS as refused:
                return refused  # the guard audits it, and counts it if it is a guess
            return None

        now = self.clock.now()
        self.lockout.guard_owner_secret(self.uow, account, client, now, kind, refusal)

    def _check_current_code(self, account_id: str, code: str) -> None:
        if self.totp.enabled(account_id):
            self.totp.verify(account_id, code, attempts_left=0)
        else:
            self.codes.check(manage_owner(account_id), account_id, code)


@dataclass(frozen=True)
class SmsFactor:
    """The `SecondFactor` of the two-step sign-in. The sign-in flow validates the half-finished
    sign-in, counts wrong codes and locks; this only sends codes and judges them."""

    uow: UnitOfWorkFactory
    codes: SmsCodes
    method = "sms"

    def enabled_in(self, factors: SecondFactors) -> bool:
        return factors.sms

    def code_problem(self, code: str) -> str | None:
        return six_digit_problem(code, TEXT)

    def send_sign_in_code(
        self,
        account_id: str,
        challenge: str,
        client: ClientInfo,
        *,
        known_device: str | None = None,
    ) -> SentCode:
        """Text a code for the sign-in whose challenge digest is `challenge` to the account's
        number; from a `known_device`, under the known devices' daily caps. Raises
        `SmsResendTooSoon`, `SmsLimitReached`, `SmsDeliveryFailed`, and `SmsNotSetUp` when the
        account has no active number."""
        with self.uow(read_only=True) as uow:
            current = _active(uow, account_id)
        if current is None:
            raise SmsNotSetUp()
        return self.codes.send(
            sign_in_owner(challenge),
            account_id,
            current.phone,
            "sms_code",
            client,
            known_device=known_device,
        )

    def verify_sign_in(self, account_id: str, code: str, challenge: str) -> None:
        """Accept the code sent for this sign-in once. `InvalidMfaCode` for a wrong code,
        `SmsCodeExpired` when the code cannot be accepted any more (ask for a new one)."""
        self.codes.check(sign_in_owner(challenge), account_id, code)
