"""Lost-device recovery cases: what a case is, what free text it may hold, and what its owner
is told at each step (docs: help topic "lost-device").

A case moves open → approved → completed, or ends rejected or cancelled. Second factors are
removed only by completion, after a waiting period in which the owner can cancel from any of
the emails. NIST SP 800-63B-4, "Authenticator Event Management" (loss, and recovery of a
subscriber account): replacing a lost authenticator is as sensitive as binding one, so the
owner is notified at the address of record and the change waits.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from accessguard.domain.errors import ValidationFailed
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Message
from accessguard.domain.tokens import Signer


class CaseStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


ACTIVE = (CaseStatus.OPEN, CaseStatus.APPROVED)  # one of these per account at a time

DETAILS_MAX = 2000
NOTE_MAX = 1000
# C0/C1 controls except tab and line breaks, and the bidirectional overrides that would let a
# requester make the text read differently to the support agent (CVE-2021-42574, "Trojan
# Source"). The pattern documents the rule in the API schema; `text_problem` applies it.
_BANNED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
FILLED_TEXT_PATTERN = f"^[^{_BANNED}]*[^{_BANNED}\\s][^{_BANNED}]*$"
_CONTROL = re.compile(f"[{_BANNED}]")
# No 0/O or 1/I: references are read out over the phone to support.
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class RecoveryCase:
    id: str
    reference: str
    account_id: str
    status: CaseStatus
    details: str
    created_at: datetime
    ip: str
    user_agent: str
    country: str | None
    known_device: bool
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    effective_at: datetime | None = None
    closed_at: datetime | None = None

    def cancellable(self, now: datetime) -> bool:
        return _cancellable(self.status, self.effective_at, now)


@dataclass(frozen=True)
class ActiveRecovery:
    """What the owner sees of their account's open or approved case (GET /me, /account):
    enough to recognise it (when, from where, and from which browser or app: an owner who
    asked knows their own) and to see when it takes effect; not what the requester wrote."""

    reference: str
    status: CaseStatus
    created_at: datetime
    effective_at: datetime | None  # set when support approves
    ip: str
    country: str | None
    user_agent: str

    @classmethod
    def of(cls, case: RecoveryCase) -> ActiveRecovery:
        return cls(
            case.reference,
            case.status,
            case.created_at,
            case.effective_at,
            case.ip,
            case.country,
            case.user_agent,
        )

    def cancellable(self, now: datetime) -> bool:
        return _cancellable(self.status, self.effective_at, now)


def _cancellable(status: CaseStatus, effective_at: datetime | None, now: datetime) -> bool:
    if status is CaseStatus.OPEN:
        return True
    return status is CaseStatus.APPROVED and (effective_at is None or effective_at > now)


def text_problem(value: str, *, limit: int, required: bool) -> str | None:
    """What is wrong with free text, in words for the field's error; None when it is fine."""
    if required and not value.strip():
        return "is required"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if _CONTROL.search(value):
        return "contains control characters"
    if not value.isascii() and not _encodable(value):
        return "contains characters that are not valid Unicode"  # lone surrogates
    return None


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(field: str, value: str, *, limit: int, required: bool) -> str:
    """Free text as stored (trimmed), or validation_error naming the field."""
    problem = text_problem(value, limit=limit, required=required)
    if problem is not None:
        raise ValidationFailed(fields=[{"field": field, "message": problem}])
    return value.strip()


def new_reference() -> str:
    """`R-7KQ2-M4XD`: what the requester quotes to support (40 bits, so not a secret)."""
    chars = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"R-{chars[:4]}-{chars[4:]}"


def cancel_token(signer: Signer, case_id: str) -> str:
    """The owner's cancel token: an HMAC of the case id under the service key.

    Derived rather than random so that every email of the case (opened, approved) can carry
    a working link while only its digest is stored. A key rotation between two emails gives
    the later one a new token, which then replaces the stored digest.
    """
    return signer.sign(f"recovery-cancel.{case_id}").rpartition(".")[2]


def notice(account: Account, template: str, **facts: Any) -> Message:
    facts["anti_phishing_phrase"] = account.anti_phishing_phrase
    return Message("email", account.email, template, facts, account.id)


def case_facts(case: RecoveryCase) -> dict[str, Any]:
    """What every email about a case says of the request, so the owner can recognise it."""
    return {
        "reference": case.reference,
        "requested_at": case.created_at.isoformat(timespec="minutes"),
        "ip": case.ip,
        "country": case.country or "unknown",
        "user_agent": case.user_agent[:200],
    }


def cancelled_notice(account: Account, case: RecoveryCase, now: datetime, *, by: str) -> Message:
    """The owner's mail that a case ended before it took effect. `by` says how: "link" (the
    owner's cancel link) or "password_reset" (the case rested on the old password, so a reset
    ends it, and its owner must hear that the request is gone, not find out from support)."""
    facts = {**case_facts(case), "cancelled_at": now.isoformat(timespec="minutes"), "by": by}
    return notice(account, "recovery_cancelled", **facts)


def case_event(
    case: RecoveryCase,
    kind: str,
    client: ClientInfo,
    now: datetime,
    outcome: str = "success",
    **detail: str,
) -> AuditEvent:
    """The audit row of something that happened to a case."""
    facts = {"case_id": case.id, "reference": case.reference, **detail}
    return AuditEvent(
        now, kind, outcome, case.account_id, client.ip, client.user_agent[:300], facts
    )
