"""What the owner may see of the audit trail."""

from __future__ import annotations

from accessguard.domain.model import AuditEvent
from accessguard.domain.ports import UnitOfWorkFactory

HISTORY_LIMIT = 100
# What the audit records for a right password with a second step still due.
SECOND_STEP_DUE = "mfa_required"


def step_of(event: AuditEvent) -> str:
    """Which step of a sign-in the event was: "password" or "second_factor"."""
    return str(event.detail.get("step", "password"))


def outcome_of(event: AuditEvent) -> str:
    """The outcome as the contract shows it to the owner: `success` or an error code. A right
    password with a second step due is a success of the password step (`step_of`), not an
    error, and has no code of its own in the catalogue."""
    return "success" if event.outcome == SECOND_STEP_DUE else event.outcome


class History:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def sign_ins(self, account_id: str) -> list[AuditEvent]:
        with self._uow(read_only=True) as uow:
            return uow.audit.sign_ins(account_id, HISTORY_LIMIT)
