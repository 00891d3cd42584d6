"""What the owner may see of the audit trail."""

from __future__ import annotations

from accessguard.domain.model import AuditEvent
from accessguard.domain.ports import UnitOfWorkFactory

HISTORY_LIMIT = 100


class History:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def sign_ins(self, account_id: str) -> list[AuditEvent]:
        with self._uow(read_only=True) as uow:
            return uow.audit.sign_ins(account_id, HISTORY_LIMIT)
