"""What the core needs from the outside world. Adapters in `storage` and `notify` fill these in.

Repositories never commit: the `UnitOfWork` owns the transaction, so a use case's change, its
audit row and its notification are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from accessguard.domain.model import (
    Account,
    AttemptFromDevice,
    AuditEvent,
    Challenge,
    ClientInfo,
    Device,
    LockState,
    Message,
    SecondFactors,
    Session,
)

if TYPE_CHECKING:
    from accessguard.domain.mfa_sms import SmsCredential
    from accessguard.domain.mfa_totp import TotpCredential
    from accessguard.domain.recovery_cases import ActiveRecovery, CaseStatus, RecoveryCase
    from accessguard.domain.recovery_codes import StoredCodes
    from accessguard.domain.sms_codes import SentCode, SmsCode


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class AccountRepository(Protocol):
    def add(self, account: Account) -> bool:
        """Store a new account; False when the email key is taken (nothing written)."""

    def get(self, account_id: str) -> Account | None:
        """The account with this id."""

    def by_email_key(self, email_key: str) -> Account | None:
        """The account whose normalised email is `email_key`."""

    def for_password_attempt(
        self, email_key: str, lock_subject: str
    ) -> tuple[Account | None, SecondFactors, LockState]:
        """The account whose normalised email is `email_key` (None if there is none) with its
        second factors, and the lock state of `lock_subject`, in one read (what a password
        attempt needs before the hash)."""

    def for_password_attempt_from_device(
        self, email_key: str, lock_subject: str, token_digest: str
    ) -> AttemptFromDevice:
        """`for_password_attempt` from a client that brings a device token, in the same read:
        also the account's device whose token hashes to `token_digest`, with its own lock
        (`device_subject`); None when the account has no such device."""

    def set_password(self, account_id: str, password_hash: str) -> None:
        """Replace the stored hash."""

    def replace_password(self, account_id: str, checked_hash: str, password_hash: str) -> bool:
        """Replace the stored hash only if it is still `checked_hash`, the one a password was
        just checked against: False when a reset or another change came first. Atomic, so
        of racing changes exactly one wins."""

    def mark_verified(self, account_id: str, at: datetime) -> None:
        """Record that the owner proved the address."""

    def set_security_hold(self, account_id: str, until: datetime) -> None:
        """Hold withdrawals until `until` after a security change."""

    def lock(self, account_id: str) -> None:
        """Hold the account row until the transaction ends: changes to one account's set of
        something (its recovery case, its recovery codes) take turns."""

    def second_factors(self, account_id: str) -> SecondFactors:
        """The account's active app, confirmed phone and unused recovery codes, in one read."""


class SessionRepository(Protocol):
    def add(self, session: Session, token_digest: str) -> None:
        """Store a session under the digest of its token."""

    def by_token_digest(self, token_digest: str) -> Session | None:
        """The session whose token hashes to `token_digest`, revoked or not."""

    def with_account(self, token_digest: str) -> tuple[Session, Account] | None:
        """The session and its account in one lookup (the hot path of every request)."""

    def touch(self, session_id: str, at: datetime) -> None:
        """Record activity (the idle timeout counts from here)."""

    def list_active(self, account_id: str, now: datetime) -> list[Session]:
        """Unrevoked, unexpired sessions, newest first."""

    def revoke(self, session_id: str, at: datetime) -> bool:
        """End one session; False when it was not active."""

    def revoke_all(self, account_id: str, at: datetime, *, except_id: str | None = None) -> int:
        """End every active session of the account but `except_id`; how many ended."""


class SessionReads(Protocol):
    """The reads of every authenticated API request, awaited on the event loop so that a
    request does not hold a worker thread while the database answers. Each call is its own
    short read (or, for `touch`, its own one-statement write), outside any unit of work."""

    async def with_account(self, token_digest: str) -> tuple[Session, Account] | None:
        """As `SessionRepository.with_account`."""

    async def touch(self, session_id: str, at: datetime) -> None:
        """As `SessionRepository.touch`, committed at once."""

    async def with_account_and_factors(
        self, token_digest: str
    ) -> tuple[Session, Account, SecondFactors, ActiveRecovery | None] | None:
        """`with_account`, the account's `second_factors` and its active lost-device case
        (`RecoveryCaseRepository.active_for`), in one read (GET /me)."""


class DeviceRepository(Protocol):
    def add(self, device: Device, token_digest: str) -> None:
        """Remember a device that signed in successfully."""

    def by_token_digest(self, token_digest: str) -> Device | None:
        """The device whose token hashes to `token_digest`."""

    def touch(self, device_id: str, at: datetime) -> None:
        """Record a successful sign-in from the device."""

    def ids_for(self, account_id: str) -> list[str]:
        """The ids of the account's devices."""


class OneTimeTokenRepository(Protocol):
    def add(
        self, purpose: str, account_id: str, token_digest: str, expires_at: datetime, now: datetime
    ) -> None:
        """Store a single-use token."""

    def void_all(self, purpose: str, account_id: str, at: datetime) -> None:
        """Make every unused token of this purpose for the account unusable."""

    def consume(self, purpose: str, token_digest: str, now: datetime) -> str | None:
        """Atomically claim an unused, unexpired token: its account id, or None. Of any number
        of parallel claims exactly one wins."""

    def usable_owner(self, purpose: str, token_digest: str, now: datetime) -> str | None:
        """The account a claim would return now, or None (claims nothing)."""

    def any_usable(self, purpose: str, account_id: str, now: datetime) -> bool:
        """Whether the account has an unused, unexpired token of this purpose."""

    def issued_to(self, purpose: str, token_digest: str) -> str | None:
        """The account a token of this purpose was made for, used or not, expired or not;
        None for a token never made (or purged since)."""


class LockoutRepository(Protocol):
    def get(self, subject: str) -> LockState:
        """The lock state of a subject (an email key or a known device)."""

    def lock(self, subject: str, seen: LockState, until: datetime) -> bool:
        """Lock the subject if its generation is still `seen.generation` (compare-and-set);
        False when another attempt changed it first."""

    def clear_level(self, subject: str) -> None:
        """Forget earlier locks after a success, so the next lock starts short again."""

    def unlock(self, subjects: list[str]) -> None:
        """Lift locks and start fresh counters (support unlock, successful reset)."""


class ChallengeRepository(Protocol):
    def add(self, challenge: Challenge) -> None:
        """Store a half-finished sign-in."""

    def get(self, token_digest: str) -> Challenge | None:
        """The challenge whose token hashes to `token_digest`, used or not."""

    def count_failure(self, token_digest: str) -> int:
        """Atomically add one wrong code to the challenge; its new count of wrong codes."""

    def consume(self, token_digest: str, now: datetime) -> bool:
        """Atomically end an unused, unexpired challenge; of parallel claims exactly one wins."""

    def release(self, token_digest: str, claimed_at: datetime) -> None:
        """Undo `consume` made at `claimed_at` (the code it was claimed for was refused)."""

    def void_all(self, account_id: str, now: datetime) -> int:
        """End every unused challenge of the account (logout, password change, lock)."""


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None:
        """Append an event."""

    def sign_ins(self, account_id: str, limit: int) -> list[AuditEvent]:
        """The account's sign-in attempts, newest first."""


class Outbox(Protocol):
    def add(self, message: Message, now: datetime) -> None:
        """Queue a message; it is sent after the transaction commits, with retries."""


class UnitOfWork(Protocol):
    accounts: AccountRepository
    sessions: SessionRepository
    devices: DeviceRepository
    tokens: OneTimeTokenRepository
    lockouts: LockoutRepository
    audit: AuditLog
    outbox: Outbox
    totp: TotpRepository
    recovery_codes: RecoveryCodeRepository
    challenges: ChallengeRepository
    recovery_cases: RecoveryCaseRepository
    sms: SmsRepository

    def __enter__(self) -> UnitOfWork:
        """Begin a transaction."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit when the block ended normally, roll back otherwise."""


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False, deferred_writes: bool = False) -> UnitOfWork:
        """A unit of work; `read_only` promises no writes, so readers need not queue
        behind writers (SQLite takes no write lock for it). `deferred_writes` promises that
        the unit reads nothing it wrote itself, so the store may send its writes together
        when it ends (all of them or none, as ever)."""


class ThrottleStore(Protocol):
    """Counters shared by every instance (the database, or Redis when configured)."""

    def hit(self, key: str, window_seconds: int, now: datetime) -> int:
        """Atomically add one to the key's count in its window; the new count."""

    def count(self, key: str, now: datetime) -> tuple[int, int]:
        """The current count and the seconds until the window ends (0, 0 when empty)."""

    def counts(self, keys: Sequence[str], now: datetime) -> list[int]:
        """The current count of each key, in order (0 when empty), read together."""

    def reset(self, key: str) -> None:
        """Forget the key."""


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str:
        """A salted Argon2id hash."""

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches, in time independent of where it differs."""

    async def verify_async(self, password_hash: str, password: str) -> bool:
        """As `verify`, awaited without holding a thread while the hash runs."""

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with older parameters."""


class SecretBox(Protocol):
    """Authenticated encryption for secrets the service must read back (TOTP seeds)."""

    def seal(self, plain: str) -> str:
        """Encrypt with the newest key; the result is text, safe to store."""

    def open(self, sealed: str) -> str:
        """Decrypt with whichever configured key sealed it; ValueError when none does."""


class TotpRepository(Protocol):
    def get(self, account_id: str) -> TotpCredential | None:
        """The account's authenticator credential, pending or active."""

    def put_pending(
        self, account_id: str, sealed_secret: str, now: datetime, *, session_id: str
    ) -> bool:
        """Replace any pending credential with a new one, started by session `session_id`;
        False (nothing written) when an active one exists."""

    def activate(self, account_id: str, sealed_secret: str, step: int, now: datetime) -> bool:
        """Atomically activate the pending credential `sealed_secret` if its last step is below
        `step` and `step` is not burnt, recording `step` as used; False when another request
        won, or the seed was replaced meanwhile, or nothing is pending."""

    def claim_step(self, account_id: str, step: int, now: datetime) -> bool:
        """Atomically record `step` as the last used one if it is later than the stored one
        and not burnt. Of any number of parallel claims of the same step exactly one wins."""

    def burn_step(self, account_id: str, step: int, now: datetime) -> bool:
        """Atomically mark one step (a drifted code's) as spent, leaving the last step alone;
        False when it was burnt already. It never counts later, even in its own time."""

    def delete(self, account_id: str) -> bool:
        """Remove the credential and its burnt steps; False when there was none."""


class RecoveryCodeRepository(Protocol):
    def replace(self, account_id: str, salt: str, digests: list[str], now: datetime) -> None:
        """Store a new set (one salt for all its codes) in place of the old one."""

    def stored(self, account_id: str) -> StoredCodes | None:
        """The account's set, None when it has none."""

    def consume(self, account_id: str, code_digest: str, now: datetime) -> bool:
        """Atomically mark an unused code used; of parallel uses of one code exactly one wins."""

    def count_unused(self, account_id: str) -> int:
        """How many codes of the account are still unused."""

    def delete_unless_second_factor(self, account_id: str) -> int:
        """Delete the account's codes if no second factor remains; how many were deleted."""


class RecoveryCaseRepository(Protocol):
    """Lost-device recovery cases. Every change of status is one conditional UPDATE, so of
    parallel decisions, cancels and completions of a case exactly one takes effect."""

    def active_for(self, account_id: str) -> RecoveryCase | None:
        """The account's open or approved case, if any."""

    def add(self, case: RecoveryCase, cancel_token_digest: str) -> bool:
        """Store a new case with the digest of its owner's cancel token; False, storing nothing
        and leaving the transaction usable, when the account already has an active case or
        another case has its reference, id or token digest."""

    def get(self, case_id: str) -> RecoveryCase | None:
        """The case with this id."""

    def listing(self, status: CaseStatus | None, limit: int) -> list[RecoveryCase]:
        """Cases, newest first, of one status or all."""

    def for_account(self, account_id: str, limit: int) -> list[RecoveryCase]:
        """The account's cases, newest first."""

    def by_cancel_token(self, token_digest: str) -> RecoveryCase | None:
        """The case whose owner's cancel link this is, in whatever state (changes nothing)."""

    def cancel(self, token_digest: str, now: datetime) -> RecoveryCase | None:
        """Atomically cancel the open, or approved and not yet effective, case of the token;
        None when there is none (unknown token, already cancelled, decided or completed)."""

    def cancel_active(self, account_id: str, now: datetime) -> RecoveryCase | None:
        """Cancel the account's open, or approved and not yet effective, case; None when it
        has none."""

    def decide(
        self,
        case_id: str,
        status: CaseStatus,
        *,
        by: str,
        at: datetime,
        note: str,
        effective_at: datetime | None = None,
        cancel_token_digest: str | None = None,
    ) -> RecoveryCase | None:
        """Atomically approve or reject a case that is still open; None when it is not."""

    def due(self, now: datetime, limit: int) -> list[str]:
        """Ids of approved cases whose waiting period is over, oldest first."""

    def complete(self, case_id: str, now: datetime) -> RecoveryCase | None:
        """Atomically mark an approved, due case completed; None when it is not (any more)."""

    def remove_second_factors(self, account_id: str) -> None:
        """Delete every second factor of the account and its half-finished sign-ins."""

    def security_events(
        self, account_id: str, kinds: tuple[str, ...], limit: int
    ) -> list[AuditEvent]:
        """The account's successful audit events whose kind starts with one of `kinds`,
        newest first."""


class SmsRepository(Protocol):
    """Phone numbers for sign-in codes, and the codes (one live code per owner)."""

    def credential(self, account_id: str) -> SmsCredential | None:
        """The account's number."""

    def add_confirmed(self, account_id: str, phone: str, now: datetime) -> bool:
        """Store the account's first confirmed number; False (nothing written) if it has one."""

    def replace_phone(self, account_id: str, phone: str, now: datetime) -> bool:
        """Change the confirmed number, voiding every code sent to another number; False
        when the account has none (any more)."""

    def delete(self, account_id: str) -> bool:
        """Remove the number and every pending code of the account; False when there was none."""

    def code(self, owner: str) -> SmsCode | None:
        """The owner's code row, live or not."""

    def put_code(
        self, code: SmsCode, *, sent_before: datetime, begun_before: datetime, max_tries: int
    ) -> bool:
        """Atomically put `code` (unsent) in place of the owner's code, unless that one is
        unused and was sent after `sent_before`, or is unsent and begun after `begun_before`
        (the resend cooldown); False (nothing written) when refused. Of parallel puts for one
        owner exactly one wins. The code replaced stays acceptable as `previous_*` when it
        went to the same number and could still be accepted at `code.created_at` (sent,
        unused, unexpired, fewer than `max_tries` tries)."""

    def mark_sent(self, owner: str, code_digest: str, at: datetime) -> None:
        """Record that the gateway took the code (its cooldown starts)."""

    def drop_code(self, owner: str, code_digest: str) -> None:
        """Void the code if it is still the owner's (a send that failed): the code it
        replaced, if kept, becomes the owner's code again; else the row goes."""

    def take_try(
        self, owner: str, account_id: str, max_tries: int, now: datetime
    ) -> SmsCode | None:
        """Atomically count one try of the owner's sent, unused, unexpired code that has had
        fewer than `max_tries` (or, while its resend is still with the gateway, of the code it
        replaced, if unexpired); the code after counting, or None when none is open."""

    def claim(self, owner: str, code_digest: str, now: datetime) -> bool:
        """Atomically mark the code used; of parallel claims exactly one wins."""


class PhoneNumbers(Protocol):
    def normalise(self, typed: str) -> str:
        """The E.164 form of a number as a customer typed it; `PhoneNumberInvalid` for one
        that is not a number able to receive text messages."""


class TextMessages(Protocol):
    def deliver_immediately(self, message: Message) -> None:
        """Send now, not through the queue (a late code is worse than none); raise
        `SmsDeliveryFailed` when the gateway refuses or does not answer in time."""


class SignInTexts(Protocol):
    """Sends the SMS code of a half-finished sign-in (the SMS factor)."""

    def send_sign_in_code(
        self,
        account_id: str,
        challenge: str,
        client: ClientInfo,
        *,
        known_device: str | None = None,
    ) -> SentCode:
        """Text a code for the sign-in whose challenge digest is `challenge`, under the resend
        cooldown and the daily caps (a known device's own); the refusal otherwise
        (`sms_delivery_failed` included)."""


class SecondFactor(Protocol):
    """One way to finish a half-finished sign-in (totp, sms, recovery_code). The sign-in
    flow owns the challenge, the attempt counting and the lockout; a factor only judges."""

    method: str

    def enabled_in(self, factors: SecondFactors) -> bool:
        """Whether an account with these factors can use this method now."""

    def code_problem(self, code: str) -> str | None:
        """Why `code` cannot be one of this method's codes at all (letters in a 6-digit code,
        the wrong length, nothing but spaces), in words for the field's error; None when it
        may be one. Judged before anything is counted: a typo of form is not a guess."""

    def verify_sign_in(self, account_id: str, code: str, challenge: str) -> None:
        """Accept `code` once for the sign-in whose challenge digest is `challenge`, or raise
        the catalogue's refusal (`InvalidMfaCode` for a wrong code: the caller counts it and
        fills in `attempts_left`; `MfaCodeReused`, `TotpClockDrift`, … as they are)."""
