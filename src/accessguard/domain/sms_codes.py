"""Six-digit codes sent by text message: issued under a resend cooldown and daily caps, sent
at once (a late code is worse than none), checked with a limit on tries, accepted once.

One row per owner ("sign_in:<challenge digest>", "enrol:<account id>", …). A resend to the
same number replaces the row's code but keeps the one it replaced acceptable until that
one's own expiry: texts arrive late, and a customer who asked again types whichever came
first. Either code accepted uses up both. Codes are stored as keyed digests only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from accessguard.domain.codes import typed_code
from accessguard.domain.errors import (
    InvalidMfaCode,
    MfaCodeReused,
    SmsCodeExpired,
    SmsDeliveryFailed,
    SmsLimitReached,
    SmsResendTooSoon,
)
from accessguard.domain.model import AuditEvent, ClientInfo, Message
from accessguard.domain.ports import Clock, TextMessages, ThrottleStore, UnitOfWorkFactory
from accessguard.domain.rules import Rules
from accessguard.domain.tokens import new_code

log = logging.getLogger(__name__)

MAX_TRIES = 5
DAY_SECONDS = 86400
# A row still waiting for the gateway blocks a resend this long at most: longer than every
# time limit of the SMS channel together, short enough should the sending process die.
IN_FLIGHT = timedelta(seconds=30)
_KEY_LABEL = b"accessguard/sms-code/v1"


@dataclass(frozen=True)
class SmsCode:
    """A code as stored: its digest, never the code. `sent_at` is None until the gateway took
    it; a code that was never sent cannot be accepted."""

    owner: str
    account_id: str
    phone: str
    code_digest: str
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None = None
    tries: int = 0
    used_at: datetime | None = None
    # The code this one replaced, sent to the same number and still unexpired at the resend.
    previous_digest: str | None = None
    previous_sent_at: datetime | None = None
    previous_expires_at: datetime | None = None

    def digests_accepted(self, now: datetime) -> list[str]:
        """The digests a typed code may match now: this code's once sent, and the one it
        replaced while that one has not expired (also while this one is still with the
        gateway: the earlier text may arrive just then)."""
        accepted = [self.code_digest] if self.sent_at is not None else []
        replaced = self.previous_digest
        if replaced is not None and self.previous_expires_at and self.previous_expires_at > now:
            accepted.append(replaced)
        return accepted


@dataclass(frozen=True)
class SentCode:
    """What a client may learn about a code it asked for: never the code or the number."""

    to: str
    expires_at: datetime
    resend_after: int


def masked(phone: str) -> str:
    """`+•••••••••89`: enough for the owner to recognise the number, little for anyone else."""
    return phone[:1] + "\u2022" * max(0, len(phone) - 3) + phone[-2:]


class CodeHasher:
    """HMAC-SHA256 under keys derived from the service's secret keys. Six digits have only a
    million values, so a plain hash would fall to trying them all; the owner is part of the
    message, so a digest matches nowhere else. The newest key hashes, every key verifies."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("CodeHasher needs at least one key")
        self._keys = [hmac.new(key, _KEY_LABEL, hashlib.sha256).digest() for key in keys]

    def _mac(self, key: bytes, owner: str, code: str) -> str:
        return hmac.new(key, f"{owner}\x00{code}".encode(), hashlib.sha256).hexdigest()

    def digest(self, owner: str, code: str) -> str:
        return self._mac(self._keys[-1], owner, code)

    def matches(self, owner: str, code: str, stored: str) -> bool:
        # Every key is tried, so the time taken does not tell which one matched.
        results = [hmac.compare_digest(self._mac(k, owner, code), stored) for k in self._keys]
        return any(results)


def _sign_in_gap(account_id: str) -> str:
    """The counter that spaces texts for sign-ins from unfamiliar devices to one account.

    Each half-finished sign-in has its own code and cooldown, and the password alone opens a
    new one: without a wait across them, whoever knows the password could fire the day's
    texts at the owner's phone in seconds. Known devices have caps of their own and no gap;
    a code used ends the wait, as the phone's holder has just shown up."""
    return f"sms-gap:{account_id}"


# Codes a signed-in session asks for: a number to add or change to, and one to the number in
# use to prove it (mfa_sms.py's owners). Any other purpose counts as a sign-in, so a new kind
# of code asked without a session can never spend the signed-in caps.
_SIGNED_IN_PURPOSES = frozenset({"enrol", "change", "manage"})


def _caps_of(purpose: str, known_device: str | None = None) -> str:
    """Whose daily caps a code counts against, as the suffix of the counter keys.

    Each kind has the same limits and counters of its own, so one kind cannot use up
    another's: sign-ins from unfamiliar devices (anyone with the password, or trying it);
    sign-ins from known devices (OWASP's device cookies: only the owner finished one there);
    and a signed-in session's own actions (a stolen session still meets its cap).

    Known devices share one set: with caps for each, every device made would bring ten more
    texts a day to the same number, and an account's owner can make devices without a text
    (a sign-in finished with the app's code makes one), so a number that earns from the
    texts it receives (SMS pumping) could be paid without bound."""
    if purpose in _SIGNED_IN_PURPOSES:
        return ":signed-in"
    return ":known-devices" if known_device else ""


def _seconds(delta: timedelta) -> int:
    return max(1, ceil(delta.total_seconds()))


@dataclass(frozen=True)
class SmsCodes:
    rules: Rules
    uow: UnitOfWorkFactory
    clock: Clock
    throttle: ThrottleStore
    sender: TextMessages
    hasher: CodeHasher

    def send(
        self,
        owner: str,
        account_id: str,
        phone: str,
        template: str,
        client: ClientInfo,
        *,
        known_device: str | None = None,
    ) -> SentCode:
        """Replace the owner's code with a new one and text it to `phone` now. Refused while
        the last successful send is younger than the cooldown, or over a daily cap; a failed
        send voids the new code and leaves no cooldown behind.

        `known_device`: a sign-in from a device that finished one before counts against the
        known devices' caps, apart from others' as its password failures are (OWASP's device
        cookies): whoever else knows the password cannot use up the owner's texts for the
        day. Codes a signed-in session asks for have caps of their own too (`_caps_of`)."""
        now = self.clock.now()
        cooldown = timedelta(seconds=self.rules.sms_resend_cooldown_seconds)
        with self.uow(read_only=True) as uow:
            current = uow.sms.code(owner)
        self._refuse_if_too_soon(current, now)  # before the caps: a refusal costs nothing
        purpose = owner.partition(":")[0]
        gap = _sign_in_gap(account_id) if purpose == "sign_in" and not known_device else None
        if gap is not None:
            self._take_gap(gap, now)  # before the caps: a refusal for waiting costs nothing
        try:
            self._count_against_caps(account_id, phone, now, _caps_of(purpose, known_device))
        except SmsLimitReached:
            self._release_gap(gap)
            raise
        code = new_code()
        fresh = SmsCode(
            owner=owner,
            account_id=account_id,
            phone=phone,
            code_digest=self.hasher.digest(owner, code),
            created_at=now,
            expires_at=now + timedelta(seconds=self.rules.sms_code_seconds),
        )
        with self.uow() as uow:
            placed = uow.sms.put_code(
                fresh,
                sent_before=now - cooldown,
                begun_before=now - IN_FLIGHT,
                max_tries=MAX_TRIES,
            )
            current = None if placed else uow.sms.code(owner)
        if not placed:  # a parallel request for this owner won
            self._release_gap(gap)
            self._refuse_if_too_soon(current, now)
            raise SmsResendTooSoon(retry_after=_seconds(cooldown))
        try:
            self.sender.deliver_immediately(Message("sms", phone, template, {"code": code}))
        except SmsDeliveryFailed as failed:
            # Neither the code nor the number: the purpose and the account are enough to follow.
            log.warning("SMS code (%s) for account %s not delivered", purpose, account_id)
            self._release_gap(gap)  # a failed send leaves no wait behind
            with self.uow() as uow:
                # The code sent before this one, if any, works on as if no resend was asked.
                uow.sms.drop_code(owner, fresh.code_digest)
                uow.audit.record(self._event(account_id, purpose, failed.code.value, client))
            raise
        sent_at = self.clock.now()
        with self.uow() as uow:
            uow.sms.mark_sent(owner, fresh.code_digest, sent_at)
            uow.audit.record(self._event(account_id, purpose, "success", client))
        return SentCode(masked(phone), fresh.expires_at, _seconds(cooldown))

    def check(self, owner: str, account_id: str, code: str) -> SmsCode:
        """Accept the owner's code once, or raise: `InvalidMfaCode` for a wrong one (its
        `attempts_left` are this code's tries), `SmsCodeExpired` when none can be accepted any
        more (never sent, expired, used or out of tries), `MfaCodeReused` when a parallel
        request accepted it first."""
        now = self.clock.now()
        code = typed_code(code)  # "123 456", or in another script's digits
        with self.uow() as uow:
            # The try is counted first, in its own transaction (UPDATE … WHERE tries < 5
            # RETURNING), so parallel guesses cannot share one try.
            tried = uow.sms.take_try(owner, account_id, MAX_TRIES, now)
        if tried is None:
            raise SmsCodeExpired()
        matched = [self.hasher.matches(owner, code, d) for d in tried.digests_accepted(now)]
        if not any(matched):
            raise InvalidMfaCode(attempts_left=MAX_TRIES - tried.tries)
        with self.uow() as uow:
            claimed = uow.sms.claim(owner, tried.code_digest, now)
        if not claimed:
            raise MfaCodeReused()
        if owner.startswith("sign_in:"):
            self._release_gap(_sign_in_gap(account_id))  # the owner has the phone: no wait
        return tried

    def ensure_sendable(self, owner: str, account_id: str, phone: str) -> None:
        """Raise now what `send` would refuse for waiting (cooldown, caps), changing nothing,
        so that a use case can refuse before it spends a proof such as a password and code."""
        now = self.clock.now()
        with self.uow(read_only=True) as uow:
            current = uow.sms.code(owner)
        self._refuse_if_too_soon(current, now)
        for key, limit in self._caps(account_id, phone, _caps_of(owner.partition(":")[0])):
            count, retry_after = self.throttle.count(key, now)
            if count >= limit:
                raise SmsLimitReached(retry_after=retry_after or DAY_SECONDS)

    def _refuse_if_too_soon(self, current: SmsCode | None, now: datetime) -> None:
        if current is None or current.used_at is not None:
            return
        if current.sent_at is not None:
            free_at = current.sent_at + timedelta(seconds=self.rules.sms_resend_cooldown_seconds)
        else:
            free_at = current.created_at + IN_FLIGHT  # still with the gateway
        if free_at > now:
            raise SmsResendTooSoon(retry_after=_seconds(free_at - now))

    def _take_gap(self, key: str, now: datetime) -> None:
        # Taken before sending, atomically, so parallel sign-ins cannot all pass.
        if self.throttle.hit(key, self.rules.sms_resend_cooldown_seconds, now) > 1:
            _, retry_after = self.throttle.count(key, now)
            raise SmsResendTooSoon(retry_after=max(1, retry_after))

    def _release_gap(self, key: str | None) -> None:
        if key is not None:
            self.throttle.reset(key)

    def _count_against_caps(self, account_id: str, phone: str, now: datetime, kind: str) -> None:
        # Attempts count, sent or not: the caps bound what the gateway is asked to do.
        for key, limit in self._caps(account_id, phone, kind):
            if self.throttle.hit(key, DAY_SECONDS, now) > limit:
                _, retry_after = self.throttle.count(key, now)
                raise SmsLimitReached(retry_after=retry_after or DAY_SECONDS)

    def _caps(self, account_id: str, phone: str, kind: str) -> tuple[tuple[str, int], ...]:
        """The counters of one kind of code (`_caps_of`) and their daily limits.

        Per account: SMS pumping (toll fraud) through one account, whose session may aim
        codes for a number to add at any number it likes. Per number, across every account:
        floods of one phone, and pumping one number from many accounts. Every kind counts on
        both, so a kind of code reaches one number, or serves one account, at most its limit
        a day whoever asks. Counting the kinds apart gives pumping little: only the signed-in
        kind goes to a number not yet proven with a code, and it has both caps."""
        # The number is hashed, with a key (numbers are few enough to enumerate), so that
        # counter keys in Redis or the database do not spell it out.
        return (
            (f"sms-day:account:{account_id}{kind}", self.rules.sms_daily_limit_per_account),
            (
                f"sms-day:phone:{self.hasher.digest('phone', phone)[:40]}{kind}",
                self.rules.sms_daily_limit_per_number,
            ),
        )

    def _event(self, account_id: str, purpose: str, outcome: str, client: ClientInfo) -> AuditEvent:
        return AuditEvent(
            at=self.clock.now(),
            kind="sms_code_sent",
            outcome=outcome,
            account_id=account_id,
            ip=client.ip,
            user_agent=client.user_agent[:300],
            detail={"purpose": purpose},
        )
