"""Lockout that an attacker cannot turn against the owner (OWASP device-cookie scheme).

Failures are counted per subject: the normalised email for unfamiliar clients, or the
device for a client that signed in before. A known device therefore keeps working while a
stranger hammers the email. Counters live in the `ThrottleStore` (atomic increments); the
lock itself lives in the database so a Redis restart cannot lift it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from accessguard.domain.errors import (
    AccessError,
    AccountLocked,
    InvalidCredentials,
    InvalidMfaCode,
    MfaCodeReused,
    ReauthenticationRequired,
    RecoveryCodeUsed,
    SmsCodeExpired,
    TooManyRequests,
    TotpClockDrift,
)
from accessguard.domain.model import Account, AuditEvent, ClientInfo, LockState
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import (
    LockoutRepository,
    PasswordHasher,
    ThrottleStore,
    UnitOfWorkFactory,
)
from accessguard.domain.rules import MAX_LOCK_SECONDS, Rules
from accessguard.domain.throttling import address_group
from accessguard.domain.tokens import digest

if TYPE_CHECKING:
    from accessguard.domain.sessions import Authenticated


# The rule for every check of a secret (`Lockout.guard_owner_secret`, and the sign-in's second
# step, which counts `InvalidMfaCode` alone): only a wrong secret counts toward the lock. These
# refusals are of a code that was right but cannot be used now: spent already (a form sent
# twice, a code typed again), from a device clock minutes off, or texted and no longer accepted.
# None is a guess at an unknown secret (each answers a code that matched, or a moment when no
# code could), so counting them would lock owners out without slowing a guesser: rate limiting
# is there to bound failed guesses (NIST SP 800-63B rev. 3, §5.2.2). They are audited, and
# their own refusal tells the owner what to do (wait for the next code, fix the clock).
NOT_A_GUESS: tuple[type[AccessError], ...] = (
    MfaCodeReused,
    RecoveryCodeUsed,
    SmsCodeExpired,
    TotpClockDrift,
)
# What a code check hands `Lockout.guard_owner_secret`: a wrong code, or one that is not a guess.
CODE_REFUSALS: tuple[type[AccessError], ...] = (InvalidMfaCode, *NOT_A_GUESS)


def email_subject(email_key: str) -> str:
    # Hashed so that counter keys in Redis and lock rows do not spell out addresses.
    return "email:" + digest(email_key)[:40]


def device_subject(device_id: str) -> str:
    return "device:" + device_id


def locked_refusal(state: LockState, now: datetime) -> AccountLocked | None:
    """The refusal a lock gives while it holds, saying until when; None when not locked."""
    if state.locked_until is None or not state.is_locked(now):
        return None
    return AccountLocked(until=state.locked_until, now=now)


def address_counter(ip: str) -> str:
    """The counter of failures from `ip`'s address group."""
    return f"addr-fail:{address_group(ip)}"


def lock_seconds(rules: Rules, level: int) -> int:
    """The first lock lasts `lockout_seconds`; each further one doubles, up to 24 hours."""
    return int(min(rules.lockout_seconds * 2 ** min(level, 32), MAX_LOCK_SECONDS))


@dataclass(frozen=True)
class Failures:
    """The failures counted so far: the subject's, in its lock generation, and its client
    address's, in the address window."""

    subject: int
    address: int


class Lockout:
    def __init__(self, rules: Rules, throttle: ThrottleStore) -> None:
        self._rules = rules
        self._throttle = throttle

    def subject_counter(self, subject: str, state: LockState) -> str:
        """The counter of the subject's failures in its current lock generation."""
        return f"fail:{subject}:{state.generation}"

    def check_address(self, ip: str, now: datetime) -> None:
        count, _ = self._throttle.count(address_counter(ip), now)
        refusal = self.address_refusal(count, ip, now)
        if refusal is not None:
            raise refusal

    def address_allows(self, failures_before: int) -> bool:
        """Whether an attempt that `failures_before` failures from its address preceded may
        go ahead (see `address_refusal`)."""
        return failures_before < self._rules.address_failure_limit

    def address_refusal(
        self, failures_before: int, ip: str, now: datetime
    ) -> TooManyRequests | None:
        """The refusal for an attempt from `ip` that `failures_before` failures from its address
        preceded: an attempt goes ahead only while they are fewer than the limit.

        Checked before the hash and again after it. Parallel attempts all pass the first
        check before any of them is counted; the second one makes each wrong password past
        the limit (its own count says so) and each right one that came after it (the
        address's count says so) answer `too_many_requests` too, so an address learns
        nothing from more than the limit of guesses, however many it sends at once.
        """
        if self.address_allows(failures_before):
            return None
        _, ttl = self._throttle.count(address_counter(ip), now)
        return TooManyRequests(retry_after=max(ttl, 1))

    def check_subject(self, lockouts: LockoutRepository, subject: str, now: datetime) -> LockState:
        state = lockouts.get(subject)
        locked = locked_refusal(state, now)
        if locked is not None:
            raise locked
        return state

    def count_failure(self, subject: str, state: LockState, ip: str, now: datetime) -> Failures:
        """Count one failure for the address and the subject; both new counts.

        Counters are bumped outside any transaction (and before the lock is written), so a
        parallel attempt sees the count at once, even before the lock row commits.
        """
        address = self._throttle.hit(address_counter(ip), self._rules.address_window_seconds, now)
        subject_count = self._throttle.hit(
            self.subject_counter(subject, state), self._rules.lockout_window_seconds, now
        )
        return Failures(subject_count, address)

    def lock_if_reached(
        self,
        lockouts: LockoutRepository,
        subject: str,
        state: LockState,
        failures: int,
        now: datetime,
    ) -> AccountLocked | None:
        """The lock, when this failure reached the threshold or raced past it."""
        if failures < self._rules.lockout_threshold:
            return None
        until = now + timedelta(seconds=lock_seconds(self._rules, state.level))
        if failures == self._rules.lockout_threshold:
            # Exactly one attempt sees the threshold count; compare-and-set on the generation
            # makes a stale racer unable to lock a second time.
            lockouts.lock(subject, state, until)
            return AccountLocked(until=until, now=now)
        # Raced past the threshold while the lock was being written: already locked. The row
        # read may still be the last, expired lock if the new one has not committed yet: its
        # end would tell the client to come back too soon.
        current = lockouts.get(subject)
        ends = current.locked_until
        return AccountLocked(until=ends if ends is not None and ends > now else until, now=now)

    def failures(self, subject: str, state: LockState, ip: str, now: datetime) -> Failures:
        """The failures counted so far for the subject, in this lock generation, and for the
        address, read together."""
        subject_count, address = self._throttle.counts(
            [self.subject_counter(subject, state), address_counter(ip)], now
        )
        return Failures(subject_count, address)

    def subject_failures(self, subject: str, state: LockState, now: datetime) -> int:
        """The subject's failures counted so far in this lock generation, alone."""
        count, _ = self._throttle.count(self.subject_counter(subject, state), now)
        return count

    def threshold_reached(self, failures: int) -> bool:
        return failures >= self._rules.lockout_threshold

    def guard_owner_secret(
        self,
        uow: UnitOfWorkFactory,
        account: Account,
        client: ClientInfo,
        now: datetime,
        kind: str,
        refusal_of: Callable[[], AccessError | None],
    ) -> None:
        """Check a signed-in owner's secret (current password, a code) under the email's
        lockout, so a stolen session cannot guess without limit. Every refusal `refusal_of`
        returns is audited as `kind` and raised; a wrong secret also counts as a failed
        sign-in (and the lock, once reached, is raised instead), a refusal in `NOT_A_GUESS`
        never does. A code check returns any of `CODE_REFUSALS` rather than raising it. A
        right secret resets nothing: a session that has the password would otherwise buy
        fresh guesses at a code with it; only a finished sign-in resets the counter."""
        subject = email_subject(account.email_key)
        with uow() as work:
            state = self.check_subject(work.lockouts, subject, now)
        # The counters are read before the secret is judged: with their store down this is
        # service_unavailable whatever was sent. Judged first, a wrong secret would meet the
        # store only when counted, and a stolen session would tell right from wrong (204
        # against 503) with nothing counted (fail closed, as a sign-in reads its counter).
        self.subject_failures(subject, state, now)
        refusal = refusal_of()
        if refusal is None:
            return
        failures = None
        if not isinstance(refusal, NOT_A_GUESS):
            failures = self.count_failure(subject, state, client.ip, now).subject
            if isinstance(refusal, InvalidMfaCode):
                left = max(0, self._rules.lockout_threshold - failures)
                refusal = InvalidMfaCode(attempts_left=left)
        with uow() as work:
            locked = None
            if failures is not None:
                locked = self.lock_if_reached(work.lockouts, subject, state, failures, now)
            outcome = locked or refusal
            work.audit.record(
                AuditEvent(
                    now, kind, outcome.code.value, account.id, client.ip, client.user_agent[:300]
                )
            )
        raise outcome

    def reset_counter(self, subject: str, state: LockState) -> None:
        """A success resets only its own subject's counter."""
        self._throttle.reset(self.subject_counter(subject, state))


def require_recent_sign_in(
    rules: Rules,
    uow: UnitOfWorkFactory,
    lockout: Lockout,
    hasher: PasswordHasher,
    auth: Authenticated,
    password: str | None,
    client: ClientInfo,
    now: datetime,
    kind: str,
) -> None:
    """Adding a second factor decides who can sign in from now on: a session signed in longer
    ago than `reauth_seconds` (a device left unlocked, a stolen cookie) must show the password
    again, checked under the lockout like any other guess (OWASP ASVS re-authentication).
    A password sent by a recent session is checked too: a form that takes a wrong one and
    goes ahead would tell a guesser nothing, but the owner who mistyped it that it was right."""
    recent = now - auth.session.created_at <= timedelta(seconds=rules.reauth_seconds)
    if recent and not password:
        return
    if not password:
        raise ReauthenticationRequired()
    account = auth.account

    def refusal() -> AccessError | None:
        right = hasher.verify(account.password_hash, prepare(password))
        return None if right else InvalidCredentials()

    lockout.guard_owner_secret(uow, account, client, now, kind, refusal)
