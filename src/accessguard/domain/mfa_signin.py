"""The second step of a sign-in: a code from one of the account's second factors finishes a
half-finished sign-in (docs/flows/signin.mermaid).

The challenge is the only way in: unknown, used, expired or another client's tokens never
advance. Wrong codes count on the password step's lockout subject, so the email (or the known
device) locks after the same number of failures whichever secret was wrong, and the challenge
itself dies after that many wrong codes or once its subject is locked.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NoReturn

from accessguard.domain import notifications
from accessguard.domain.devices import KnownDevices
from accessguard.domain.errors import (
    AccessError,
    InvalidMfaCode,
    MfaMethodUnavailable,
    MfaTokenExpired,
    MfaTokenInvalid,
    ValidationFailed,
)
from accessguard.domain.lockout import Lockout, locked_refusal
from accessguard.domain.model import AuditEvent, Challenge, ClientInfo, LockState
from accessguard.domain.ports import (
    Clock,
    SecondFactor,
    SignInTexts,
    ThrottleStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Sessions
from accessguard.domain.signin import SignedIn, binding_of
from accessguard.domain.sms_codes import SentCode
from accessguard.domain.tokens import Signer, digest


@dataclass(frozen=True)
class OpenChallenge:
    """A challenge that may still be finished, with the lock state its failures count on."""

    challenge: Challenge
    lock: LockState


class SecondStep:
    def __init__(
        self,
        rules: Rules,
        uow: UnitOfWorkFactory,
        clock: Clock,
        throttle: ThrottleStore,
        sessions: Sessions,
        device_signer: Signer,
        factors: Sequence[SecondFactor],
        texts: SignInTexts | None = None,
    ) -> None:
        self._rules = rules
        self._uow = uow
        self._clock = clock
        self._lockout = Lockout(rules, throttle)
        self._sessions = sessions
        self._devices = KnownDevices(rules, device_signer)
        self._factors = {factor.method: factor for factor in factors}
        self._texts = texts

    def open(self, mfa_token: str, client: ClientInfo) -> OpenChallenge:
        """The challenge `mfa_token` names, if this client may still finish it; else the
        refusal. Used before sending an SMS code too, so no step is reachable out of order."""
        now = self._clock.now()
        self._lockout.check_address(client.ip, now)
        token_digest = digest(mfa_token)
        with self._uow(read_only=True) as uow:
            challenge = uow.challenges.get(token_digest)
            if challenge is None or challenge.used_at is not None:
                raise MfaTokenInvalid()
            if not hmac.compare_digest(challenge.binding_digest, binding_of(client)):
                raise MfaTokenInvalid()  # another client's token: worth nothing here
            if challenge.expires_at <= now:
                raise MfaTokenExpired()
            if challenge.failures >= self._rules.lockout_threshold:
                raise MfaTokenInvalid()
            lock = uow.lockouts.get(challenge.subject)
        locked = locked_refusal(lock, now)
        if locked is not None:
            self._void_pending(challenge.account_id, now)
            raise locked
        return OpenChallenge(challenge, lock)

    def methods(self, challenge: Challenge) -> list[str]:
        with self._uow(read_only=True) as uow:
            present = uow.accounts.second_factors(challenge.account_id)
        return [method for method, factor in self._factors.items() if factor.enabled_in(present)]

    def email_of(self, mfa_token: str, client: ClientInfo) -> str | None:
        """The address a half-finished sign-in of this client was begun with, else None: so
        that a customer who gives up on the second step need not type it again. Only the
        client that typed it gets it back (the token is bound to it)."""
        try:
            opened = self.open(mfa_token, client)
        except AccessError:
            return None
        with self._uow(read_only=True) as uow:
            account = uow.accounts.get(opened.challenge.account_id)
        return account.email if account else None

    def send_sms(self, mfa_token: str, client: ClientInfo) -> SentCode:
        """Text this sign-in's code: only within an open challenge of an account with a phone,
        so the SMS gateway cannot be driven by anyone without the password."""
        challenge = self.open(mfa_token, client).challenge
        available = self.methods(challenge)
        if self._texts is None or "sms" not in available:
            raise MfaMethodUnavailable(methods=available)
        sent = self._texts.send_sign_in_code(
            challenge.account_id, challenge.token_digest, client, known_device=challenge.device_id
        )
        # The code cannot finish a sign-in that has ended: its useful life is the shorter one.
        return replace(sent, expires_at=min(sent.expires_at, challenge.expires_at))

    def __call__(
        self,
        mfa_token: str,
        method: str,
        code: str,
        device_token: str | None,
        client: ClientInfo,
    ) -> SignedIn:
        opened = self.open(mfa_token, client)
        challenge = opened.challenge
        factor = self._factors.get(method)
        available = self.methods(challenge)
        if factor is None or method not in available:
            raise MfaMethodUnavailable(methods=available)
        problem = factor.code_problem(code)
        if problem is not None:
            # A code that cannot be one (letters, the wrong length) is a typo, refused before
            # the challenge is claimed: it must not bring the customer closer to a lock.
            raise ValidationFailed(fields=[{"field": "code", "message": problem}])
        # The challenge is claimed before the code is judged, so parallel attempts on it wait
        # their turn as refusals instead of spending codes (a recovery code used by a request
        # that then lost the race would be gone for nothing); a refused code releases it.
        claimed_at = self._clock.now()
        with self._uow() as uow:
            if not uow.challenges.consume(challenge.token_digest, claimed_at):
                raise MfaTokenInvalid()
        try:
            factor.verify_sign_in(challenge.account_id, code, challenge.token_digest)
        except BaseException as refusal:
            with self._uow() as uow:
                uow.challenges.release(challenge.token_digest, claimed_at)
            # Only a wrong code counts; a spent, drifted or expired one is audited alone
            # (the rule of every secret's check: `lockout.NOT_A_GUESS`).
            if isinstance(refusal, InvalidMfaCode):
                self._refuse(opened, method, client)
            if isinstance(refusal, AccessError):
                self._audit(challenge, method, refusal.code.value, client)
            raise
        self._refuse_if_locked_meanwhile(opened, method, client)
        return self._finish(opened, method, device_token, client)

    def _refuse_if_locked_meanwhile(
        self, opened: OpenChallenge, method: str, client: ClientInfo
    ) -> None:
        """A right code stands only if the wrong ones counted so far are below the threshold,
        as for the password: otherwise a burst of guesses on many half-finished sign-ins,
        each judged before the others were counted, would get more tries than the lockout
        allows. The lock row may not be written yet; the counter already says it."""
        challenge, now = opened.challenge, self._clock.now()
        failures = self._lockout.subject_failures(challenge.subject, opened.lock, now)
        if not self._lockout.threshold_reached(failures):
            return
        with self._uow() as uow:
            locked = self._lockout.lock_if_reached(
                uow.lockouts, challenge.subject, opened.lock, failures, now
            )
            assert locked is not None  # noqa: S101 - the threshold is reached
            uow.audit.record(self._event(challenge, method, locked.code.value, client, now))
        self._void_pending(challenge.account_id, now)
        raise locked

    def _refuse(self, opened: OpenChallenge, method: str, client: ClientInfo) -> NoReturn:
        challenge, now = opened.challenge, self._clock.now()
        failures = self._lockout.count_failure(
            challenge.subject, opened.lock, client.ip, now
        ).subject
        with self._uow() as uow:
            tries = uow.challenges.count_failure(challenge.token_digest)
            locked = self._lockout.lock_if_reached(
                uow.lockouts, challenge.subject, opened.lock, failures, now
            )
            left = self._rules.lockout_threshold - max(failures, tries)
            refusal = locked or InvalidMfaCode(attempts_left=max(0, left))
            uow.audit.record(self._event(challenge, method, refusal.code.value, client, now))
            if locked is not None and failures == self._rules.lockout_threshold:
                # This attempt locked it (exactly one does): the owner hears once per lock.
                self._alert_owner(uow, challenge.account_id, client, now, locked)
        if locked is not None:
            self._void_pending(challenge.account_id, now)
        raise refusal

    def _void_pending(self, account_id: str, now: datetime) -> None:
        """End every half-finished sign-in of a locked account. In a unit of its own: one that
        still held a challenge's row while waiting for every other row of the account would
        deadlock with racers doing the same."""
        with self._uow() as uow:
            uow.challenges.void_all(account_id, now)

    def _alert_owner(
        self, uow: UnitOfWork, account_id: str, client: ClientInfo, now: datetime, lock: AccessError
    ) -> None:
        account = uow.accounts.get(account_id)
        if account is not None:
            until = str(lock.facts["locked_until"])
            uow.outbox.add(notifications.second_step_failed(account, client, now, until), now)

    def _finish(
        self, opened: OpenChallenge, method: str, device_token: str | None, client: ClientInfo
    ) -> SignedIn:
        challenge, now = opened.challenge, self._clock.now()
        with self._uow() as uow:
            outcome = self._complete(uow, opened, method, device_token, client, now)
            code = outcome.code.value if isinstance(outcome, AccessError) else "success"
            uow.audit.record(self._event(challenge, method, code, client, now))
        if isinstance(outcome, AccessError):
            raise outcome
        self._lockout.reset_counter(challenge.subject, opened.lock)
        return outcome

    def _complete(
        self,
        uow: UnitOfWork,
        opened: OpenChallenge,
        method: str,
        device_token: str | None,
        client: ClientInfo,
        now: datetime,
    ) -> SignedIn | AccessError:
        challenge = opened.challenge
        lock = uow.lockouts.get(challenge.subject)
        locked = locked_refusal(lock, now)
        if locked is not None:
            # Wrong codes racing this one locked the subject while it was being checked.
            return locked
        if lock.level:
            uow.lockouts.clear_level(challenge.subject)
        device = None
        if challenge.device_id is not None:
            device = self._devices.recognise(uow, challenge.account_id, device_token, now)
            device = device if device is not None and device.id == challenge.device_id else None
        kept = self._devices.remember(uow, challenge.account_id, device, device_token, now)
        token, session = self._sessions.start(
            uow, challenge.account_id, client, now, second_factor=method
        )
        return SignedIn(challenge.account_id, token, session.expires_at, kept)

    def _audit(self, challenge: Challenge, method: str, outcome: str, client: ClientInfo) -> None:
        with self._uow() as uow:
            uow.audit.record(self._event(challenge, method, outcome, client, self._clock.now()))

    @staticmethod
    def _event(
        challenge: Challenge, method: str, outcome: str, client: ClientInfo, now: datetime
    ) -> AuditEvent:
        return AuditEvent(
            now,
            "sign_in",
            outcome,
            challenge.account_id,
            client.ip,
            client.user_agent[:300],
            {"step": "second_factor", "method": method},
        )
