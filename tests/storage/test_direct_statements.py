"""Sign-in's statements on the driver cursor (storage/sql/direct.py) answer exactly as
SQLAlchemy does, inside the same transaction, and fail the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.errors import ServiceUnavailable
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Device, LockState, Session
from accessguard.storage.sql import accounts as account_tables
from accessguard.storage.sql.direct import DirectStatement
from accessguard.storage.sql.tables import devices, sessions
from accessguard.storage.sql.throttle import SqlThrottleStore
from tests.support import PG_ADMIN_URL

AT = datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=UTC)
on_postgresql_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
on_sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _account(services: Services) -> Account:
    created = services.accounts.register(
        "direct@example.com", "a long enough password 42", ClientInfo("127.0.0.1", "t")
    )
    assert created is not None
    return created


def test_the_account_read_answers_as_sqlalchemy_does(services: Services) -> None:
    account = _account(services)
    direct: DirectStatement = account_tables.FOR_PASSWORD_ATTEMPT
    with services.uow() as uow:
        uow.lockouts.lock("email:x", LockState(), AT)
    with services.engine.connect() as conn:
        for values in [
            {"email_key": account.email_key, "subject": "email:x"},
            {"email_key": account.email_key, "subject": "email:unlocked"},
            {"email_key": "nobody@example.com", "subject": "email:x"},
        ]:
            through_sqlalchemy = dict(conn.execute(direct.statement, values).mappings().one())
            assert direct.first(conn, values) == through_sqlalchemy


def test_a_session_and_a_device_added_read_back_the_same(services: Services) -> None:
    account = _account(services)
    session = Session(
        "s-1", account.id, AT, AT, AT + timedelta(days=1), "2001:db8::1", "Agent/1 ü", None
    )
    device = Device("d-1", account.id, AT, AT, AT + timedelta(days=30))
    with services.uow() as uow:
        uow.sessions.add(session, "session-digest")
        uow.devices.add(device, "device-digest")
    with services.uow(read_only=True) as uow:
        assert uow.sessions.by_token_digest("session-digest") == session
        assert uow.devices.by_token_digest("device-digest") == device
    with services.engine.connect() as conn:
        assert conn.scalar(sa.select(sessions.c.token_digest)) == "session-digest"
        assert conn.scalar(sa.select(devices.c.token_digest)) == "device-digest"


def test_an_audit_event_reads_back_the_same(services: Services) -> None:
    account = _account(services)
    event = AuditEvent(
        AT, "sign_in", "success", account.id, "203.0.113.9", "Agent", {"note": "ü", "n": 1}
    )
    with services.uow() as uow:
        uow.audit.record(event)
    with services.uow(read_only=True) as uow:
        assert uow.audit.sign_ins(account.id, 10) == [event]


def test_a_lock_reads_back_with_its_aware_time(services: Services) -> None:
    with services.uow() as uow:
        assert uow.lockouts.get("email:x") == LockState()
        uow.lockouts.lock("email:x", LockState(), AT)
    with services.uow(read_only=True) as uow:
        state = uow.lockouts.get("email:x")
    assert (state.generation, state.level, state.locked_until) == (1, 1, AT)
    assert state.locked_until is not None
    assert state.locked_until.tzinfo is not None


def test_the_sql_counters_count_on_either_database(services: Services) -> None:
    # The backend fixture puts PostgreSQL's counters in Redis; this store is what runs there
    # when Redis is not configured.
    store = SqlThrottleStore(services.engine)
    now = datetime.now(UTC)
    assert store.count("k", now) == (0, 0)
    store.hit("k", 600, now)
    store.hit("k", 600, now)
    count, retry_after = store.count("k", now)
    assert count == 2
    assert 0 < retry_after <= 600


def test_a_write_rolled_back_takes_the_direct_inserts_with_it(services: Services) -> None:
    account = _account(services)
    event = AuditEvent(AT, "sign_in", "success", account.id)

    def record_then_fail() -> None:
        with services.uow() as uow:
            uow.audit.record(event)
            raise RuntimeError("failed after the insert")

    with pytest.raises(RuntimeError):
        record_then_fail()
    with services.uow(read_only=True) as uow:
        assert uow.audit.sign_ins(account.id, 10) == []


@on_sqlite_only
def test_a_broken_sqlite_database_under_a_direct_read_is_service_unavailable(
    services: Services,
) -> None:
    with services.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE counters")
    with pytest.raises(ServiceUnavailable):
        SqlThrottleStore(services.engine).count("k", datetime.now(UTC))


@on_postgresql_only
def test_a_connection_lost_under_a_direct_statement_is_unavailable_then_replaced(
    services: Services,
) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    told_dead: list[bool] = []

    def read_after_the_server_ended_the_connection() -> None:
        with services.uow(read_only=True) as uow:
            conn = uow.lockouts._conn  # type: ignore[attr-defined]
            pid = conn.connection.driver_connection.info.backend_pid
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            try:
                uow.lockouts.get("email:x")
            finally:
                told_dead.append(conn.invalidated)

    try:
        with pytest.raises(ServiceUnavailable):
            read_after_the_server_ended_the_connection()
    finally:
        admin.dispose()
    # SQLAlchemy was told the connection died, at once, by the direct statement: the pool
    # does not hand it out again, and the next unit of work gets a new one.
    assert told_dead == [True]
    with services.uow(read_only=True) as uow:
        assert uow.lockouts.get("email:x") == LockState()
