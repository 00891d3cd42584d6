"""Support's side of lost-device recovery: the cases with the signals a reviewer weighs, and
the decision.

Only staff with the `support` role, in a session that passed a second factor, may review
(a phished support password alone must not unlock customers' accounts), and nobody decides a
case on their own account: the person who gains access is never the one who grants it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from accessguard.domain.errors import Forbidden, MfaSessionRequired, NotFound, RecoveryCaseClosed
from accessguard.domain.model import AuditEvent, ClientInfo
from accessguard.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from accessguard.domain.recovery_cases import (
    NOTE_MAX,
    CaseStatus,
    RecoveryCase,
    cancel_token,
    case_event,
    case_facts,
    clean_text,
    notice,
)
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Authenticated
from accessguard.domain.tokens import Signer, digest

SUPPORT_ROLE = "support"
LIST_LIMIT = 100
HISTORY_LIMIT = 100
# Audit kinds that change how an account is protected; prefixes, so that new events of these
# (recovery_codes_…) show up without a change here. A code sent by text changes nothing, and
# listed among the changes it crowded them out.
SECURITY_KINDS = (
    "password_",
    "totp_",
    "sms_enabled",
    "sms_removed",
    "phone_",
    "recovery_code",
    "email_",
    "unlock",
)


@dataclass(frozen=True)
class SignInSeen:
    at: datetime
    ip: str
    country: str | None


@dataclass(frozen=True)
class Signals:
    known_device: bool
    country: str | None
    usual_countries: tuple[str, ...]  # of successful sign-ins before the request
    usual_country: bool | None  # None: nothing to compare (no country, or no history)
    last_sign_in: SignInSeen | None
    security_changes: tuple[AuditEvent, ...]
    earlier_cases: tuple[RecoveryCase, ...]


@dataclass(frozen=True)
class CaseReview:
    case: RecoveryCase
    email: str
    signals: Signals
    # Who approved or rejected it, by the address colleagues know them by: the case's own
    # `decided_by` is an account id. None while undecided; "" for a reviewer since deleted.
    decided_by_email: str | None = None


def _closed(uow: UnitOfWork, case_id: str) -> RecoveryCaseClosed:
    """Another reviewer, or the owner's cancel, changed the case since it was read."""
    current = uow.recovery_cases.get(case_id)
    return RecoveryCaseClosed(status=current.status.value if current else "unknown")


def _decision_note(note: str) -> str:
    # Required: an approval takes a customer's second factors away, so the case must keep what
    # the reviewer checked (for the audit, and for whoever reviews the owner's complaint), and
    # a rejection's note is its only reason.
    return clean_text("note", note, limit=NOTE_MAX, required=True)


def require_reviewer(auth: Authenticated) -> None:
    if auth.account.role != SUPPORT_ROLE:
        raise Forbidden()
    if not auth.session.passed_second_factor:
        raise MfaSessionRequired()


class RecoveryReview:
    def __init__(
        self,
        rules: Rules,
        uow: UnitOfWorkFactory,
        clock: Clock,
        signer: Signer,
        country_of: Callable[[str], str | None],
    ) -> None:
        self._rules = rules
        self._uow = uow
        self._clock = clock
        self._signer = signer
        self._country_of = country_of

    def cases(self, auth: Authenticated, status: CaseStatus | None = None) -> list[CaseReview]:
        require_reviewer(auth)
        with self._uow(read_only=True) as uow:
            cases = uow.recovery_cases.listing(status, LIST_LIMIT)
            return [self._review(uow, case) for case in cases]

    def approve(
        self, auth: Authenticated, case_id: str, note: str, client: ClientInfo
    ) -> RecoveryCase:
        """The factors go only after the waiting period, and the owner is told at once, with
        the link that cancels."""
        require_reviewer(auth)  # before anything else is judged
        note = _decision_note(note)
        now = self._clock.now()
        effective_at = now + timedelta(seconds=self._rules.recovery_wait_seconds)
        with self._uow() as uow:
            case = self._case(uow, auth, case_id)
            token = cancel_token(self._signer, case.id)
            decided = uow.recovery_cases.decide(
                case.id,
                CaseStatus.APPROVED,
                by=auth.account.id,
                at=now,
                note=note,
                effective_at=effective_at,
                cancel_token_digest=digest(token),
            )
            if decided is None:
                raise _closed(uow, case.id)
            link = self._rules.link("/recover/cancel", token)
            self._record(uow, decided, auth, client, now, link=link)
        return decided

    def reject(
        self, auth: Authenticated, case_id: str, note: str, client: ClientInfo
    ) -> RecoveryCase:
        require_reviewer(auth)
        note = _decision_note(note)
        now = self._clock.now()
        with self._uow() as uow:
            case = self._case(uow, auth, case_id)
            decided = uow.recovery_cases.decide(
                case.id, CaseStatus.REJECTED, by=auth.account.id, at=now, note=note
            )
            if decided is None:
                raise _closed(uow, case.id)
            self._record(uow, decided, auth, client, now)
        return decided

    def _case(self, uow: UnitOfWork, auth: Authenticated, case_id: str) -> RecoveryCase:
        require_reviewer(auth)
        case = uow.recovery_cases.get(case_id)
        if case is None:
            raise NotFound()
        if case.account_id == auth.account.id:
            raise Forbidden()
        if case.status is not CaseStatus.OPEN:
            raise RecoveryCaseClosed(status=case.status.value)
        return case

    def _record(
        self,
        uow: UnitOfWork,
        case: RecoveryCase,
        auth: Authenticated,
        client: ClientInfo,
        now: datetime,
        **facts: str,
    ) -> None:
        kind = f"recovery_{case.status.value}"
        account = uow.accounts.get(case.account_id)
        if account is not None:
            if case.effective_at is not None:
                facts["effective_at"] = case.effective_at.isoformat(timespec="minutes")
            uow.outbox.add(notice(account, kind, **case_facts(case), **facts), now)
        uow.audit.record(case_event(case, kind, client, now, actor=auth.account.id))

    def _review(self, uow: UnitOfWork, case: RecoveryCase) -> CaseReview:
        account = uow.accounts.get(case.account_id)
        sign_ins = [
            event
            for event in uow.audit.sign_ins(case.account_id, HISTORY_LIMIT)
            if event.outcome == "success"
        ]
        before = [event for event in sign_ins if event.at < case.created_at]
        usual = tuple(sorted({c for e in before if (c := self._country_of(e.ip)) is not None}))
        last = sign_ins[0] if sign_ins else None
        earlier = uow.recovery_cases.for_account(case.account_id, 20)
        signals = Signals(
            known_device=case.known_device,
            country=case.country,
            usual_countries=usual,
            usual_country=case.country in usual if case.country and usual else None,
            last_sign_in=SignInSeen(last.at, last.ip, self._country_of(last.ip)) if last else None,
            security_changes=tuple(
                uow.recovery_cases.security_events(case.account_id, SECURITY_KINDS, 20)
            ),
            earlier_cases=tuple(c for c in earlier if c.id != case.id),
        )
        decided_by_email = None
        if case.decided_by is not None:
            reviewer = uow.accounts.get(case.decided_by)
            decided_by_email = reviewer.email if reviewer else ""
        return CaseReview(case, account.email if account else "", signals, decided_by_email)
