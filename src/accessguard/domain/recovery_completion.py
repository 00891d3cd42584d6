"""Carrying out approved recovery cases once their waiting period is over.

Run periodically by every instance. Each case completes in one transaction that first claims
it with a conditional UPDATE (approved and due → completed), so of instances racing for the
same case exactly one removes the factors and emails the owner, and a case cancelled a moment
earlier is never completed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from accessguard.domain.model import AuditEvent
from accessguard.domain.ports import Clock, UnitOfWorkFactory
from accessguard.domain.recovery_cases import case_facts, notice
from accessguard.domain.rules import Rules

BATCH = 50


@dataclass(frozen=True)
class RecoveryCompletion:
    rules: Rules
    uow: UnitOfWorkFactory
    clock: Clock

    def run_due(self, limit: int = BATCH) -> int:
        """Complete the approved cases that are due; how many this call completed."""
        now = self.clock.now()
        with self.uow(read_only=True) as uow:
            due = uow.recovery_cases.due(now, limit)
        return sum(self._complete(case_id, now) for case_id in due)

    def _complete(self, case_id: str, now: datetime) -> bool:
        with self.uow() as uow:
            case = uow.recovery_cases.complete(case_id, now)
            if case is None:
                return False  # another instance completed it, or the owner cancelled it
            account = uow.accounts.get(case.account_id)
            uow.recovery_cases.remove_second_factors(case.account_id)
            uow.sessions.revoke_all(case.account_id, now)
            # Withdrawals wait after the change; an existing longer hold is kept.
            hold = now + timedelta(seconds=self.rules.security_hold_seconds)
            if account is not None:
                hold = max(hold, account.security_hold_until or hold)
                uow.accounts.set_security_hold(account.id, hold)
                facts = {**case_facts(case), "hold_until": hold.isoformat(timespec="minutes")}
                uow.outbox.add(notice(account, "recovery_completed", **facts), now)
            uow.audit.record(
                AuditEvent(
                    now,
                    "recovery_completed",
                    "success",
                    case.account_id,
                    detail={"case_id": case.id, "reference": case.reference},
                )
            )
        return True
