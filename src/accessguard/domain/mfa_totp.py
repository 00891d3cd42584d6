"""Authenticator apps (RFC 6238: SHA-1, 6 digits, 30-second steps): enrol, confirm, verify,
remove. Seeds are sealed by a `SecretBox`; replay protection is an atomic claim of the step."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp

from accessguard.domain.codes import (
    APP,
    is_six_digits,
    refuse_malformed,
    six_digit_problem,
    typed_code,
)
from accessguard.domain.errors import (
    AccessError,
    InvalidCredentials,
    InvalidMfaCode,
    MfaCodeReused,
    ServiceUnavailable,
    TooManyRequests,
    TotpAlreadyEnabled,
    TotpClockDrift,
    TotpNotSetUp,
)
from accessguard.domain.lockout import CODE_REFUSALS, Lockout, require_recent_sign_in
from accessguard.domain.model import ClientInfo, SecondFactors
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import (
    Clock,
    PasswordHasher,
    SecretBox,
    ThrottleStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from accessguard.domain.recovery_codes import (
    APP_REMOVAL,
    RecoveryCodes,
    looks_like_a_recovery_code,
    owner_event,
    owner_notice,
)
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Authenticated

log = logging.getLogger(__name__)

ISSUER = "accessguard"
STEP_SECONDS = 30
WINDOW_STEPS = 1  # accepted: the current step and one either side
DRIFT_STEPS = 30  # recognised as a wrong device clock: up to ±15 minutes
# The sign-ins that proved the app: its own code, or a recovery code standing in for it.
PROVE_THE_APP = frozenset({"totp", "recovery_code"})


@dataclass(frozen=True)
class TotpCredential:
    """A sealed seed; active once confirmed. No code of `last_step` or earlier counts again,
    nor a step burnt as drift (stored apart, so later steps stay usable)."""

    account_id: str
    sealed_secret: str
    created_at: datetime
    confirmed_at: datetime | None = None
    last_step: int = -1
    started_by_session: str | None = None

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
    code = typed_code(code)
    if not is_six_digits(code):
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
    be burnt so it never counts later); the caller raises `drift_of` after burning it."""
    step = matching_step(secret, code, now)
    if step is None:
        raise InvalidMfaCode(attempts_left=attempts_left)
    if step == last_step:
        # The very code accepted last, however long ago: a form sent again or a replay, not a
        # clock to fix.
        raise MfaCodeReused()
    if step < last_step:
        # An earlier step, minutes behind the last code used, was never accepted as far as is
        # kept (only the last step is): a slow device clock, which is what the customer must
        # fix ("reused" would have them wait for codes that never work). Such a step cannot
        # count in any case, so nothing needs burning.
        raise drift_of(step, now) or MfaCodeReused()
    return step


def drift_of(step: int, now: datetime) -> TotpClockDrift | None:
    """The refusal for a code from a step outside the window; positive: the device is ahead."""
    offset = step - time_step(now)
    if abs(offset) <= WINDOW_STEPS:
        return None
    return TotpClockDrift(drift_seconds=offset * STEP_SECONDS)


def spend(uow: UnitOfWork, account_id: str, step: int, now: datetime) -> AccessError | None:
    """Claim an active credential's step inside `uow`: None when accepted, else the refusal. A
    drifted step is burnt alone, so the customer's next code, once the clock is fixed, works."""
    drift = drift_of(step, now)
    if drift is None:
        return None if uow.totp.claim_step(account_id, step, now) else MfaCodeReused()
    return drift if uow.totp.burn_step(account_id, step, now) else MfaCodeReused()


@dataclass(frozen=True)
class Totp:
    """Wrong codes count toward the email's lockout on removal (which also needs the
    password). Confirming a seed shown to this very session guards no secret, so wrong
    confirming codes only count on the account's own short limit, which cannot lock the
    owner out of signing in."""

    rules: Rules
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    box: SecretBox
    lockout: Lockout
    throttle: ThrottleStore
    recovery: RecoveryCodes

    def enabled(self, account_id: str) -> bool:
        with self.uow(read_only=True) as uow:
            credential = uow.totp.get(account_id)
        return credential is not None and credential.active

    def codes_need_the_app(self, auth: Authenticated) -> bool:
        """Whether new recovery codes need a current code from the app: while one is set up,
        unless this session proved it (signed in with it or a recovery code) or set it up.
        New codes remove the app, so a session signed in by text message (a SIM swap and the
        password) must not turn the weaker factor into the stronger one."""
        with self.uow(read_only=True) as uow:
            credential = uow.totp.get(auth.account.id)
        if credential is None or not credential.active:
            return False
        if auth.session.second_factor in PROVE_THE_APP:
            return False
        return credential.started_by_session != auth.session.id

    def start_enrolment(
        self, auth: Authenticated, client: ClientInfo, *, password: str | None = None
    ) -> Enrolment:
        """A new seed, pending until confirmed; an active one must be removed first. A session
        signed in a while ago shows the password again first."""
        now = self.clock.now()
        require_recent_sign_in(
            self.rules,
            self.uow,
            self.lockout,
            self.hasher,
            auth,
            password,
            client,
            now,
            "totp_enrolment",
        )
        secret = pyotp.random_base32()
        with self.uow() as uow:
            sealed = self.box.seal(secret)
            stored = uow.totp.put_pending(auth.account.id, sealed, now, session_id=auth.session.id)
        if not stored:
            raise TotpAlreadyEnabled()
        return self._enrolment(auth, secret)

    def pending_enrolment(self, auth: Authenticated) -> Enrolment | None:
        """The set-up this session started and has not confirmed, shown again (a reloaded
        page): a new one would replace the key already scanned. Only to the session that
        started it: another session of the account, a stolen one say, must never read a key
        its owner is about to confirm."""
        with self.uow(read_only=True) as uow:
            credential = uow.totp.get(auth.account.id)
        if credential is None or credential.active:
            return None
        if credential.started_by_session != auth.session.id:
            return None
        return self._enrolment(auth, self._secret(credential))

    def _enrolment(self, auth: Authenticated, secret: str) -> Enrolment:
        uri = pyotp.TOTP(secret).provisioning_uri(name=auth.account.email, issuer_name=ISSUER)
        return Enrolment(secret=secret, otpauth_uri=uri)

    def confirm(self, auth: Authenticated, code: str, client: ClientInfo) -> list[str]:
        """Activate the pending seed with a first right code; the new recovery codes, stored
        in the same transaction (any older set is void)."""
        account, now = auth.account, self.clock.now()
        credential = self._credential(account.id, active=False)
        refuse_malformed(code, APP)
        limit, key = self.rules.lockout_threshold, f"totp-confirm:{account.id}"
        failures, retry_after = self.throttle.count(key, now)
        if failures >= limit:
            raise TooManyRequests(retry_after=retry_after)
        secret = self._secret(credential)
        try:
            step = judge(secret, code, now, credential.last_step, attempts_left=0)
        except InvalidMfaCode:
            failures = self.throttle.hit(key, self.rules.lockout_seconds, now)
            raise InvalidMfaCode(attempts_left=max(0, limit - failures)) from None
        drift = drift_of(step, now)
        if drift is not None:
            with self.uow() as uow:
                burnt = uow.totp.burn_step(account.id, step, now)
            raise drift if burnt else MfaCodeReused()
        issued = self.recovery.issue()  # hashed before the transaction: Argon2 holds no locks
        with self.uow() as uow:
            if not uow.totp.activate(account.id, credential.sealed_secret, step, now):
                raise MfaCodeReused()  # a parallel confirm won (or a new seed came)
            issued.store(uow, account.id, now)
            uow.outbox.add(owner_notice(account, "totp_enabled", client, now), now)
            uow.audit.record(owner_event(account.id, "totp_enabled", client, now))
        self.throttle.reset(key)
        return issued.codes

    def verify(self, account_id: str, code: str, *, attempts_left: int) -> None:
        """Accept a code of the active credential once; raise the catalogue's refusal else.
        `attempts_left` is what the caller's policy allows after this code if it is wrong."""
        now = self.clock.now()
        credential = self._credential(account_id, active=True)
        secret = self._secret(credential)
        step = judge(secret, code, now, credential.last_step, attempts_left=attempts_left)
        with self.uow() as uow:
            refusal = spend(uow, account_id, step, now)
        if refusal is not None:
            raise refusal

    def remove(self, auth: Authenticated, password: str, code: str, client: ClientInfo) -> None:
        account, now = auth.account, self.clock.now()
        # Nothing to remove answers so before any secret is judged: a retry with a recovery
        # code after the app was removed would otherwise count toward the lockout.
        self._credential(account.id, active=True)
        if not looks_like_a_recovery_code(code):
            refuse_malformed(code, APP)

        def refusal() -> AccessError | None:
            if not self.hasher.verify(account.password_hash, prepare(password)):
                return InvalidCredentials()
            if looks_like_a_recovery_code(code):  # the phone with the app is lost
                return self.recovery.stand_in(account.id, code, used_for=APP_REMOVAL)
            try:
                self.verify(account.id, code, attempts_left=0)
            except CODE_REFUSALS as refused:
                return refused  # the guard audits it, and counts it if it is a guess
            return None

        self.lockout.guard_owner_secret(self.uow, account, client, now, "totp_removed", refusal)
        with self.uow() as uow:
            uow.totp.delete(account.id)
            # Recovery codes stand in for a second factor; with none left they would be one.
            uow.recovery_codes.delete_unless_second_factor(account.id)
            hold = now + timedelta(seconds=self.rules.security_hold_seconds)
            uow.accounts.set_security_hold(account.id, hold)
            until = hold.isoformat(timespec="minutes")
            uow.outbox.add(
                owner_notice(account, "totp_removed", client, now, hold_until=until), now
            )
            uow.audit.record(owner_event(account.id, "totp_removed", client, now))

    def _secret(self, credential: TotpCredential) -> str:
        try:
            return self.box.open(credential.sealed_secret)
        except ValueError:
            # Sealed under a key no longer in ACCESSGUARD_SECRET_KEYS (a restart without the
            # setting, a key retired too soon): the operator's to fix, and nothing the
            # customer did. They hear the retryable answer, and can use a recovery code.
            log.error(
                "an authenticator secret cannot be opened with the configured keys: restore "
                "the key it was sealed with to ACCESSGUARD_SECRET_KEYS"
            )
            raise ServiceUnavailable() from None

    def _credential(self, account_id: str, *, active: bool) -> TotpCredential:
        with self.uow(read_only=True) as uow:
            credential = uow.totp.get(account_id)
        if credential is not None and credential.active and not active:
            raise TotpAlreadyEnabled()  # confirmed already: here or in a parallel request
        if credential is None or credential.active != active:
            raise TotpNotSetUp()
        return credential


class TotpFactor:
    """The `SecondFactor` port for the authenticator app in the two-step sign-in."""

    method = "totp"

    def __init__(self, totp: Totp) -> None:
        self.totp = totp

    def enabled_in(self, factors: SecondFactors) -> bool:
        return factors.totp

    def code_problem(self, code: str) -> str | None:
        return six_digit_problem(code, APP)

    def verify_sign_in(self, account_id: str, code: str, challenge: str) -> None:
        # A code is spent once whichever sign-in presents it: the step claim is per account.
        self.totp.verify(account_id, code, attempts_left=0)
