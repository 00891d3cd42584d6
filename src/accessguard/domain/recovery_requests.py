"""The customer's side of lost-device recovery: open a request, and cancel one from an email.

A request answers alike whatever the email and password: a reference, after one Argon2
verification and one short transaction, so neither the answer nor its timing tells a stranger
whether an account exists or the password was right. Only the right password on an account
with a second factor opens a case; a wrong one counts toward the lockout like a failed
sign-in, so this form is no side door for guessing passwords.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from accessguard.domain.devices import KnownDevices
from accessguard.domain.emails import email_key
from accessguard.domain.errors import NoRecoveryRequest, RecoveryTokenInvalid
from accessguard.domain.lockout import Lockout
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Device
from accessguard.domain.password_attempts import PasswordAttempts
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import (
    Clock,
    PasswordHasher,
    ThrottleStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from accessguard.domain.recovery_cases import (
    DETAILS_MAX,
    ActiveRecovery,
    CaseStatus,
    RecoveryCase,
    cancel_token,
    cancelled_notice,
    case_event,
    case_facts,
    clean_text,
    new_reference,
    notice,
)
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Authenticated
from accessguard.domain.throttling import AddressThrottle
from accessguard.domain.tokens import Signer, digest

CountryOf = Callable[[str], str | None]
KIND = "recovery_requested"
# A request refused by the database and finding no active case to explain it tries again.
_TRIES_TO_OPEN = 3
ASKED_AGAIN = "recovery_asked_again"
BY_OWNER = "owner"  # cancelled by the owner, signed in (the account page or the API)


@dataclass(frozen=True)
class CancelLink:
    """An owner's cancel link: its case, and whether it can still cancel it. A link opened
    again after its case closed says what became of the case instead of only refusing."""

    case: RecoveryCase
    usable: bool


class RecoveryRequests:
    def __init__(
        self,
        rules: Rules,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: PasswordHasher,
        throttle: ThrottleStore,
        signer: Signer,
        country_of: CountryOf,
    ) -> None:
        self._rules = rules
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._lockout = Lockout(rules, throttle)
        self._address = AddressThrottle(rules, throttle)
        self._signer = signer
        self._attempts = PasswordAttempts(rules, uow, self._lockout, KnownDevices(rules, signer))
        self._country_of = country_of
        # Unknown emails are verified against this, so they cost the same time as real ones.
        self._dummy_hash = hasher.hash(uuid.uuid4().hex)

    def open(
        self, email: str, password: str, details: str, device_token: str | None, client: ClientInfo
    ) -> str:
        """The reference to quote to support: the case's, or a random one nobody stores."""
        # Support reads the details: a password written there would be on their screen.
        details = without_password(
            clean_text("details", details, limit=DETAILS_MAX, required=True), password
        )
        now = self._clock.now()
        self._address.hit("recovery", client.ip, now)
        self._lockout.check_address(client.ip, now)
        attempt = self._attempts.read(email_key(email), device_token, now)
        account = attempt.account
        matches = self._hasher.verify(
            account.password_hash if account else self._dummy_hash, prepare(password)
        )
        if attempt.locked(now) is not None:
            self._attempts.audit(KIND, "account_locked", attempt.account_id, client, now)
        elif not matches or account is None:
            self._attempts.refuse(attempt, KIND, client, now)
        else:
            # Counted before the transaction (SQLite's counters would wait on its lock): the
            # notices a request with the right password sends while no case opens (asked
            # again, nothing to recover) stay within the inbox's limit, as every mail anyone
            # can trigger, so they cannot bury a case's first mail and its cancel link.
            notify = self._address.recipient_allows(KIND, account.email_key, now)
            with self._uow() as uow:
                return self._open_case(uow, account, details, attempt.device, client, now, notify)
        return new_reference()

    def cancel_link(self, token: str) -> CancelLink | None:
        """The case of the owner's cancel link, and whether the link can still cancel it (a
        look only: mail scanners open links); None for a link that was never sent."""
        with self._uow(read_only=True) as uow:
            case = uow.recovery_cases.by_cancel_token(digest(token))
        return CancelLink(case, case.cancellable(self._clock.now())) if case else None

    def cancel(self, token: str, client: ClientInfo) -> RecoveryCase:
        now = self._clock.now()
        with self._uow() as uow:
            case = uow.recovery_cases.cancel(digest(token), now)
            account = uow.accounts.get(case.account_id) if case else None
            if case is not None and account is not None:
                uow.outbox.add(cancelled_notice(account, case, now, by="link"), now)
                uow.audit.record(case_event(case, "recovery_cancelled", client, now))
        if case is None:
            raise RecoveryTokenInvalid()
        return case

    def active(self, account_id: str) -> ActiveRecovery | None:
        """The account's open or approved case, as its owner sees it (the account page)."""
        with self._uow(read_only=True) as uow:
            case = uow.recovery_cases.active_for(account_id)
        return ActiveRecovery.of(case) if case else None

    def cancel_own(self, auth: Authenticated, client: ClientInfo) -> RecoveryCase:
        """The signed-in owner cancels the account's case: the owner whose account a stranger
        is trying to take over, or one who asked and then found the phone. Answered
        no_recovery_request when none can still be cancelled (gone from another tab, decided,
        or carried out)."""
        now = self._clock.now()
        with self._uow() as uow:
            case = uow.recovery_cases.cancel_active(auth.account.id, now)
            if case is not None:
                uow.outbox.add(cancelled_notice(auth.account, case, now, by=BY_OWNER), now)
                uow.audit.record(
                    case_event(
                        case,
                        "recovery_cancelled",
                        client,
                        now,
                        by=BY_OWNER,
                        session_id=auth.session.id,
                    )
                )
        if case is None:
            raise NoRecoveryRequest()
        return case

    def _open_case(
        self,
        uow: UnitOfWork,
        account: Account,
        details: str,
        device: Device | None,
        client: ClientInfo,
        now: datetime,
        notify: bool,
    ) -> str:
        # Requests for one account take turns, so two parallel ones cannot both open a case.
        uow.accounts.lock(account.id)
        if not uow.accounts.second_factors(account.id).any:
            # Nothing to recover, but the owner learns that someone asked with their password.
            facts = {"ip": client.ip, "at": now.isoformat(timespec="minutes")}
            if notify:
                uow.outbox.add(notice(account, "recovery_not_needed", **facts), now)
            uow.audit.record(_plain_event(account.id, "no_second_factor", client, now))
            return new_reference()
        active = uow.recovery_cases.active_for(account.id)
        tries = _TRIES_TO_OPEN
        while active is None and tries:
            tries -= 1
            opened = self._add_case(uow, account, details, device, client, now)
            if opened is not None:
                return opened
            # Refused: the database keeps one active case per account too, and one opened
            # since the read above by a writer that does not hold the account row is found
            # now. If none is (it closed again at once, or the refusal was a reference drawn
            # twice), the next try opens this request's case with a fresh reference.
            active = uow.recovery_cases.active_for(account.id)
        if active is not None:
            self._asked_again(uow, account, active, client, now, notify)
        else:
            # Refused every time with nothing active to show for it: never seen, so audited
            # rather than tried for ever.
            uow.audit.record(_plain_event(account.id, "not_opened", client, now))
        return new_reference()

    def _add_case(
        self,
        uow: UnitOfWork,
        account: Account,
        details: str,
        device: Device | None,
        client: ClientInfo,
        now: datetime,
    ) -> str | None:
        """The new case's reference, its mail and audit row queued; None when the database
        refused it (the account has an active case after all, or the reference was taken)."""
        case = RecoveryCase(
            id=str(uuid.uuid4()),
            reference=new_reference(),
            account_id=account.id,
            status=CaseStatus.OPEN,
            details=details,
            created_at=now,
            ip=client.ip,
            user_agent=client.user_agent[:300],
            country=self._country_of(client.ip),
            known_device=device is not None,
        )
        token = cancel_token(self._signer, case.id)
        if not uow.recovery_cases.add(case, digest(token)):
            return None
        link = self._rules.link("/recover/cancel", token)
        uow.outbox.add(notice(account, "recovery_requested", **case_facts(case), link=link), now)
        uow.audit.record(case_event(case, KIND, client, now))
        return case.reference

    def _asked_again(
        self,
        uow: UnitOfWork,
        account: Account,
        active: RecoveryCase,
        client: ClientInfo,
        now: datetime,
        notify: bool,
    ) -> None:
        # The requester gets a fresh reference, as for a wrong password: the case's own would
        # tell whoever asks twice that this password is right and a case is open. Its owner
        # has the real one in the email the case sent, and hears of this request too: a
        # second asking is what an attacker does when the first went quiet.
        asked = {
            "asked_at": now.isoformat(timespec="minutes"),
            "asked_ip": client.ip,
            "asked_country": self._country_of(client.ip) or "unknown",
            "asked_user_agent": client.user_agent[:200],
            "status": active.status.value,
        }
        if notify:
            uow.outbox.add(notice(account, ASKED_AGAIN, **case_facts(active), **asked), now)
        uow.audit.record(case_event(active, KIND, client, now, outcome="already_open"))


REMOVED_MARK = "[password removed]"
DETAILS_WITHHELD = "[The details were withheld: they contained the account's password.]"


def quotes_password(details: str, password: str) -> bool:
    """Whether the details contain the password typed with them: case, width, spaces, line
    breaks and invisible characters aside, all of which still leave it readable."""
    typed = _bare(password)
    return len(typed) >= 4 and typed in _bare(details)


def without_password(details: str, password: str) -> str:
    """The details with each place that quotes the password (as `quotes_password` reads it)
    replaced by REMOVED_MARK; the rest is kept, so the customer types nothing again and
    support still reads what happened. Should a quote span characters that only read as the
    password together (a combining accent, say), nothing of the details is kept."""
    if not quotes_password(details, password):
        return details
    typed = _bare(password)
    # What each character of the details becomes once bare, and so which character each
    # bare one came from.
    pieces = [_bare(char) for char in details]
    came_from = [index for index, piece in enumerate(pieces) for _ in piece]
    bare = "".join(pieces)
    kept: list[str] = []
    start = end_of_last = 0
    while (found := bare.find(typed, start)) != -1:
        first, last = came_from[found], came_from[found + len(typed) - 1]
        kept += [details[end_of_last:first], REMOVED_MARK]
        end_of_last, start = last + 1, found + len(typed)
    result = "".join([*kept, details[end_of_last:]])
    too_long = len(result) > DETAILS_MAX  # many short quotes, each replaced by a longer mark
    return DETAILS_WITHHELD if too_long or quotes_password(result, password) else result


def _bare(text: str) -> str:
    folded = prepare(text).casefold()
    return "".join(c for c in folded if not c.isspace() and unicodedata.category(c) != "Cf")


def _plain_event(
    account_id: str | None, outcome: str, client: ClientInfo, now: datetime
) -> AuditEvent:
    return AuditEvent(now, KIND, outcome, account_id, client.ip, client.user_agent[:300])
