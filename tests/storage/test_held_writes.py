"""A unit of work with `deferred_writes` (storage/sql/held_writes.py): its INSERTs land
together when it ends, all or none, on both backends; on PostgreSQL a sign-in's writes go out
as one statement with no BEGIN or COMMIT, and no connection is left in autocommit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.errors import InvalidCredentials, ServiceUnavailable
from accessguard.domain.lockout import email_subject
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Device, LockState, Session
from accessguard.storage.sql.engine import create_engine
from accessguard.storage.sql.tables import audit_events, devices, lockouts, sessions
from accessguard.storage.sql.unit_of_work import SqlUnitOfWork
from tests.support import PASSWORD, PG_ADMIN_URL, make_account

AT = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
on_postgresql_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def _device(account: Account) -> Device:
    return Device(str(uuid.uuid4()), account.id, AT, AT, AT + timedelta(days=30))


def _session(account: Account) -> Session:
    return Session(str(uuid.uuid4()), account.id, AT, AT, AT + timedelta(hours=8), "192.0.2.1", "t")


def _event(account: Account) -> AuditEvent:
    return AuditEvent(AT, "sign_in", "success", account.id, "192.0.2.1", "t")


def _counts(services: Services) -> tuple[int, ...]:
    with services.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (devices, sessions, audit_events)
        )


def test_held_inserts_land_together_when_the_unit_ends(services: Services) -> None:
    account = make_account(services)
    before = _counts(services)
    with services.uow(deferred_writes=True) as uow:
        uow.devices.add(_device(account), "d" * 64)
        uow.sessions.add(_session(account), "s" * 64)
        uow.audit.record(_event(account))
    assert _counts(services) == tuple(n + 1 for n in before)
    with services.uow(read_only=True) as uow:
        assert uow.sessions.by_token_digest("s" * 64) is not None
        assert uow.devices.by_token_digest("d" * 64) is not None


def test_a_held_insert_that_fails_takes_the_others_with_it(services: Services) -> None:
    account = make_account(services)
    with services.uow() as uow:
        uow.sessions.add(_session(account), "taken" + "0" * 59)
    before = _counts(services)

    def three_inserts_the_last_of_which_fails() -> None:
        with services.uow(deferred_writes=True) as uow:
            uow.devices.add(_device(account), "d" * 64)
            uow.audit.record(_event(account))
            uow.sessions.add(_session(account), "taken" + "0" * 59)  # its digest is unique

    with pytest.raises(sa.exc.IntegrityError):
        three_inserts_the_last_of_which_fails()
    assert _counts(services) == before


def test_a_unit_that_raises_sends_nothing_it_held(services: Services) -> None:
    account = make_account(services)
    before = _counts(services)

    def two_inserts_then_an_error() -> None:
        with services.uow(deferred_writes=True) as uow:
            uow.devices.add(_device(account), "d" * 64)
            uow.audit.record(_event(account))
            raise RuntimeError("the use case changed its mind")

    with pytest.raises(RuntimeError):
        two_inserts_then_an_error()
    assert _counts(services) == before


def test_a_write_through_sqlalchemy_and_the_held_inserts_are_one_transaction(
    services: Services,
) -> None:
    account = make_account(services)
    with services.uow() as uow:
        uow.sessions.add(_session(account), "taken" + "0" * 59)

    def a_lock_then_an_insert_that_fails() -> None:
        with services.uow(deferred_writes=True) as uow:
            uow.lockouts.lock("email:held", LockState(), AT)
            uow.sessions.add(_session(account), "taken" + "0" * 59)

    with pytest.raises(sa.exc.IntegrityError):
        a_lock_then_an_insert_that_fails()
    with services.uow(read_only=True) as uow:
        assert uow.lockouts.get("email:held") == LockState()


def test_reads_in_a_deferred_unit_see_the_last_commit(services: Services) -> None:
    with services.uow() as uow:
        uow.lockouts.lock("email:seen", LockState(), AT)
    with services.uow(deferred_writes=True) as uow:
        assert uow.lockouts.get("email:seen").locked_until == AT


@pytest.fixture
def statements_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement psycopg sends: through a cursor, and its own BEGIN and COMMIT."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute
    command = psycopg.Connection._exec_command

    def spy_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query).split(None, 1)[0].upper())
        return execute(self, query, *args, **kwargs)

    def spy_command(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(bytes(query).split(None, 1)[0].decode().upper())
        return command(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", spy_execute)
    monkeypatch.setattr(psycopg.Connection, "_exec_command", spy_command)
    return sent


@on_postgresql_only
def test_on_postgresql_a_sign_in_reads_twice_and_writes_once(
    services: Services, statements_sent: list[str]
) -> None:
    account = make_account(services)
    statements_sent.clear()
    services.signin(account.email, PASSWORD, None, ClientInfo("192.0.2.1", "t"))
    # The attempt's read, the lock's re-check after the hash, then the device, the session
    # and the audit row in one statement.
    assert statements_sent == ["SELECT", "SELECT", "WITH"]
    with services.uow(read_only=True) as uow:
        assert uow.audit.sign_ins(account.id, 1)[0].outcome == "success"


@on_postgresql_only
def test_on_postgresql_a_wrong_password_writes_its_audit_row_alone(
    services: Services, statements_sent: list[str]
) -> None:
    account = make_account(services)
    statements_sent.clear()
    with pytest.raises(InvalidCredentials):
        services.signin(account.email, "not the password at all", None, ClientInfo("1", "t"))
    assert statements_sent == ["SELECT", "INSERT"]


@on_postgresql_only
def test_no_connection_is_left_in_autocommit(services: Services) -> None:
    url = services.engine.url.render_as_string(hide_password=False)
    engine = create_engine(url, timeout_seconds=5, pool_size=1, max_overflow=0)
    try:
        with SqlUnitOfWork(engine, deferred_writes=True) as uow:
            uow.lockouts.get("email:any")
            uow.audit.record(AuditEvent(AT, "sign_in", "success", None, "192.0.2.1", "t"))
        with engine.connect() as conn:  # the pool's one connection
            driver: Any = conn.connection.driver_connection
            assert driver.autocommit is False

        def a_plain_unit_that_fails_halfway() -> None:
            with SqlUnitOfWork(engine) as uow:
                uow.lockouts.lock(email_subject("x"), LockState(), AT)
                raise RuntimeError("halfway")

        with pytest.raises(RuntimeError):
            a_plain_unit_that_fails_halfway()  # and so leaves nothing
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(lockouts)).scalar() == 0
    finally:
        engine.dispose()


@on_postgresql_only
def test_a_connection_lost_before_the_held_inserts_go_out_is_unavailable_and_replaced(
    services: Services,
) -> None:
    account = make_account(services)
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    before = _counts(services)
    drivers: list[Any] = []

    def hold_then_lose_the_connection() -> None:
        with services.uow(deferred_writes=True) as uow:
            driver = uow.audit._conn.connection.driver_connection  # type: ignore[attr-defined]
            drivers.append(driver)
            uow.lockouts.get("email:lost")
            uow.audit.record(_event(account))
            uow.sessions.add(_session(account), "s" * 64)
            with admin.connect() as other:
                other.execute(
                    sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": driver.info.backend_pid}
                )

    try:
        with pytest.raises(ServiceUnavailable):
            hold_then_lose_the_connection()
    finally:
        admin.dispose()
    assert drivers[0].closed  # discarded: never handed out again, in autocommit or otherwise
    assert _counts(services) == before
    with services.uow(deferred_writes=True) as uow:  # a new connection serves the next unit
        uow.audit.record(_event(account))
    assert _counts(services)[2] == before[2] + 1
