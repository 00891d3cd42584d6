"""Password sign-in as explicit stages (docs/flows/signin.mermaid).

Hashing happens between two short transactions, so no database connection is held for the
~20 ms of Argon2 work, and the lock is re-checked after it so no attempt slips past a lock
set while it was hashing.

Two ways in, one set of rules: `__call__` on a worker thread, and `sign_in_async`, which
does the common case (a right password, nothing unusual) from the event loop where storage
allows it and hands everything else to the first.
"""

from __future__ import annotations

import asyncio
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
from accessguard.domain.lockout import Lockout, address_counter, email_subject
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
from accessguard.domain.ports_async import SignInStore, SignInWrites
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
        store: SignInStore | None = None,
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
        self._store = store
        # Unknown emails are verified against this, so they cost the same time as real ones.
        self._dummy_hash = hasher.hash(uuid.uuid4().hex)

    @property
    def on_event_loop(self) -> bool:
        """Whether `sign_in_async` does its common case on the event loop (a `SignInStore`)."""
        return self._store is not None

    def __call__(
        self, email: str, password: str, device_token: str | None, client: ClientInfo
    ) -> SignInResult:
        now = self._clock.now()
        attempt = self._before_hash(email_key(email), device_token, client, now)
        account = attempt.account
        matches = self._hasher.verify(
            account.password_hash if account else self._dummy_hash, prepare(password)
        )
        if not matches or account is None:
            raise self._attempts.refuse(attempt, _KIND, client, now)
        return self._after_hash(attempt, password, device_token, client, now)

    async def sign_in_async(
        self, email: str, password: str, device_token: str | None, client: ClientInfo
    ) -> SignInResult:
        """The same sign-in, awaited. With a `SignInStore` (PostgreSQL with Redis), a right
        password with nothing unusual about it signs in from the event loop, with no thread
        waiting while it hashes: the same reads, checks and writes as `__call__`, each as one
        round trip. Whatever else the reads show (a lock, failures, a second factor, an old
        hash, a wrong password) goes to the synchronous path on a worker thread, which
        checks it all again as if it had come first."""
        store = self._store
        if store is None:
            return await asyncio.to_thread(self, email, password, device_token, client)
        now = self._clock.now()
        lockout = self._lockout
        if not lockout.address_allows(await store.count(address_counter(client.ip))):
            return await asyncio.to_thread(self, email, password, device_token, client)
        attempt = await self._read_async(store, email_key(email), device_token, now)
        if attempt.locked(now) is not None:
            return await asyncio.to_thread(self, email, password, device_token, client)
        account = attempt.account
        matches = await self._hasher.verify_async(
            account.password_hash if account else self._dummy_hash, prepare(password)
        )
        if not matches or account is None:
            raise await asyncio.to_thread(self._attempts.refuse, attempt, _KIND, client, now)
        counter = lockout.subject_counter(attempt.subject, attempt.lock)
        subject_failures, address_failures = await store.counts(
            [counter, address_counter(client.ip)]
        )
        outcome = None
        if self._nothing_unusual(attempt, account, subject_failures, address_failures):
            # Stored only if no racing failure locked the subject (nor anything else moved
            # its lock) while this attempt was hashing; if one did, the synchronous path
            # judges.
            outcome = await store.write_if_lock_is(
                attempt.subject,
                attempt.lock,
                lambda writes: self._signed_in(writes, attempt, device_token, client, now),
            )
        if outcome is None:
            return await asyncio.to_thread(
                self._after_hash, attempt, password, device_token, client, now
            )
        if subject_failures:
            # As in `_after_hash`: a success resets its own counter, when there is one.
            await store.reset(counter)
        return outcome

    async def _read_async(
        self, store: SignInStore, key: str, device_token: str | None, now: datetime
    ) -> PasswordAttempt:
        """As `PasswordAttempts.read`: the email's lock, unless the client brings a known
        device, which counts its own failures (read with the account, in one round trip)."""
        subject = email_subject(key)
        token_digest = self._devices.digest_of(device_token)
        if token_digest is None:
            account, factors, lock = await store.for_password_attempt(key, subject)
            return PasswordAttempt(account, None, subject, lock, factors)
        read = await store.for_password_attempt_from_device(key, subject, token_digest)
        return self._attempts.attempt_from_device(subject, read, now)

    def _nothing_unusual(
        self, attempt: PasswordAttempt, account: Account, subject_failures: int, address: int
    ) -> bool:
        """A right password that signs straight in: no failures racing it to a limit, a
        verified email, no second factor, no lock level to clear, no hash to renew."""
        return (
            self._lockout.address_allows(address)
            and not self._lockout.threshold_reached(subject_failures)
            and account.email_verified
            and not self._methods(attempt)
            and not attempt.lock.level
            and not self._hasher.needs_rehash(account.password_hash)
        )

    def _signed_in(
        self,
        writes: SignInWrites,
        attempt: PasswordAttempt,
        device_token: str | None,
        client: ClientInfo,
        now: datetime,
    ) -> SignedIn:
        account = attempt.account
        assert account is not None  # noqa: S101 - only called after a match
        kept = self._devices.remember(writes, account.id, attempt.device, device_token, now)
        token, session = self._sessions.start(writes, account.id, client, now)
        writes.audit.record(
            AuditEvent(now, _KIND, "success", account.id, client.ip, client.user_agent[:300])
        )
        return SignedIn(account.id, token, session.expires_at, kept)

    def _before_hash(
        self, key: str, device_token: str | None, client: ClientInfo, now: datetime
    ) -> PasswordAttempt:
        try:
            self._lockout.check_address(client.ip, now)
        except AccessError as refusal:
            self._attempts.audit(_KIND, refusal.code.value, None, client, now)
            raise
        attempt = self._attempts.read(key, device_token, now)
        locked = attempt.locked(now)
        if locked is not None:
            self._attempts.audit(_KIND, locked.code.value, attempt.account_id, client, now)
            raise locked
        return attempt

    def _methods(self, attempt: PasswordAttempt) -> tuple[str, ...]:
        # The factors were read with the account before the hash: a factor added while it ran
        # counts from the next sign-in, as if this one had begun a moment earlier.
        return tuple(f.method for f in self._factors if f.enabled_in(attempt.factors))

    def _after_hash(
        self,
        attempt: PasswordAttempt,
        password: str,
        device_token: str | None,
        client: ClientInfo,
        now: datetime,
    ) -> SignInResult:
        """Everything after a right password, on a worker thread."""
        account = attempt.account
        assert account is not None  # noqa: S101 - only called after a match
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
            # counted between the read and the reset goes with the rest, as if it had come
            # just before this success; one counted after the reset stays.
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
        methods = self._methods(attempt)
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
