"""At most one active lost-device case per account, held by the database (a partial unique
index, migration 0008) as well as by the account lock the domain takes: whatever writes a
second open or approved case is refused, a closed case leaves room for a new one, and the
repository answers a refused case as "one is already active" with its transaction intact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.model import AuditEvent
from accessguard.domain.recovery_cases import ACTIVE, CaseStatus, RecoveryCase, new_reference
from accessguard.domain.tokens import digest
from accessguard.storage.sql.tables import audit_events, recovery_requests
from tests.support import make_account

NOW = datetime(2036, 3, 2, 9, 30, tzinfo=UTC)
CLOSED = [status for status in CaseStatus if status not in ACTIVE]


def case_of(account_id: str, status: CaseStatus = CaseStatus.OPEN) -> RecoveryCase:
    return RecoveryCase(
        str(uuid.uuid4()), new_reference(), account_id, status, "lost", NOW, "192.0.2.4",
        "ua", None, False,
    )  # fmt: skip


def insert(services: Services, case: RecoveryCase) -> None:
    """A row written straight to the table, as a writer that takes no account lock would."""
    with services.engine.begin() as conn:
        conn.execute(
            recovery_requests.insert().values(
                id=case.id,
                reference=case.reference,
                account_id=case.account_id,
                status=case.status,
                details=case.details,
                created_at=case.created_at,
                ip=case.ip,
                user_agent=case.user_agent,
                known_device=case.known_device,
                cancel_token_digest=digest(case.id),
            )
        )


def statuses(services: Services, account_id: str) -> list[str]:
    r = recovery_requests.c
    with services.engine.connect() as conn:
        query = sa.select(r.status).where(r.account_id == account_id).order_by(r.created_at)
        return list(conn.scalars(query))


@pytest.mark.parametrize("second", ACTIVE)
@pytest.mark.parametrize("first", ACTIVE)
def test_the_database_refuses_a_second_active_case_of_an_account(
    services: Services, first: CaseStatus, second: CaseStatus
) -> None:
    account = make_account(services)
    insert(services, case_of(account.id, first))
    with pytest.raises(sa.exc.IntegrityError):
        insert(services, case_of(account.id, second))
    assert statuses(services, account.id) == [first]


@pytest.mark.parametrize("closed", CLOSED)
def test_a_closed_case_leaves_room_for_a_new_active_one(
    services: Services, closed: CaseStatus
) -> None:
    account = make_account(services)
    other = make_account(services, "grace@example.com")
    insert(services, case_of(other.id))  # another account's case is no obstacle
    earlier = case_of(account.id)
    insert(services, earlier)
    with services.engine.begin() as conn:
        conn.execute(
            recovery_requests.update()
            .where(recovery_requests.c.id == earlier.id)
            .values(status=closed, closed_at=NOW)
        )
    insert(services, case_of(account.id, closed))  # closed cases do not count either
    insert(services, case_of(account.id))
    assert sorted(statuses(services, account.id)) == sorted([closed, closed, CaseStatus.OPEN])


def test_adding_a_case_beside_an_active_one_stores_nothing_and_keeps_the_transaction(
    services: Services,
) -> None:
    account = make_account(services)
    first = case_of(account.id)
    with services.uow() as uow:
        assert uow.recovery_cases.add(first, digest("first")) is True
    with services.uow() as uow:
        assert uow.recovery_cases.add(case_of(account.id), digest("second")) is False
        # The refusal must not abort the transaction (an IntegrityError would, on
        # PostgreSQL): the use case goes on to write its audit row and its notice.
        uow.audit.record(AuditEvent(NOW, "recovery_requested", "already_open", account.id))
        assert uow.recovery_cases.active_for(account.id) == first
    with services.engine.connect() as conn:
        outcomes = conn.scalars(
            sa.select(audit_events.c.outcome).where(
                audit_events.c.account_id == account.id,
                audit_events.c.kind == "recovery_requested",
            )
        ).all()
    assert outcomes == ["already_open"]
    assert statuses(services, account.id) == [CaseStatus.OPEN]
    with services.uow() as uow:
        uow.recovery_cases.cancel_active(account.id, NOW + timedelta(minutes=1))
        assert uow.recovery_cases.add(case_of(account.id), digest("third")) is True
