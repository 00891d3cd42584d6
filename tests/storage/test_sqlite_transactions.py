"""How units of work begin on SQLite (storage/sql/sqlite_dialect.py): writers take the write
lock at their first statement, readers begin nothing and never wait for a writer."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.model import LockState
from accessguard.storage.sql.sqlite_dialect import WriteGate

on_sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
SUBJECT = "email:someone"
UNTIL = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def other_connection(services: Services) -> Iterator[sqlite3.Connection]:
    """A second client of the same file that waits for no lock."""
    path = services.engine.url.database
    assert path
    connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    yield connection
    connection.close()


def _lock_subject(services: Services) -> None:
    with services.uow() as uow:
        uow.lockouts.lock(SUBJECT, LockState(), UNTIL)


@on_sqlite_only
def test_a_writing_unit_holds_the_write_lock_from_its_first_read(
    services: Services, other_connection: sqlite3.Connection
) -> None:
    with services.uow() as uow:
        uow.lockouts.get(SUBJECT)
        # Nothing written yet, but the lock is taken: a read-then-write unit cannot find
        # another writer's change between its read and its write.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other_connection.execute("BEGIN IMMEDIATE")


@on_sqlite_only
def test_a_read_only_unit_reads_the_last_commit_while_a_writer_holds_the_lock(
    services: Services, other_connection: sqlite3.Connection
) -> None:
    _lock_subject(services)
    other_connection.execute("BEGIN IMMEDIATE")
    other_connection.execute("DELETE FROM lockouts")
    try:
        with services.uow(read_only=True) as uow:
            seen = uow.lockouts.get(SUBJECT)
    finally:
        other_connection.execute("ROLLBACK")
    assert seen.locked_until == UNTIL  # the committed lock, not the writer's pending delete


@on_sqlite_only
def test_a_read_only_unit_leaves_no_transaction_open_between_its_reads(
    services: Services,
) -> None:
    with services.uow(read_only=True) as uow:
        uow.lockouts.get(SUBJECT)
        conn = uow.lockouts._conn  # the unit's own connection
        assert not conn.connection.driver_connection.in_transaction
    # Given back to the pool, the connection begins its next writing unit IMMEDIATE again.
    with services.uow() as uow:
        uow.lockouts.get(SUBJECT)
        conn = uow.lockouts._conn
        assert conn.connection.driver_connection.in_transaction


@on_sqlite_only
def test_a_failed_writing_unit_leaves_nothing_written(services: Services) -> None:
    def fail_after_writing() -> None:
        with services.uow() as uow:
            uow.lockouts.lock(SUBJECT, LockState(), UNTIL)
            raise RuntimeError("the use case failed after its write")

    with pytest.raises(RuntimeError):
        fail_after_writing()
    with services.uow(read_only=True) as uow:
        assert uow.lockouts.get(SUBJECT) == LockState()


@on_sqlite_only
def test_a_writer_waits_its_turn_instead_of_failing(
    services: Services, other_connection: sqlite3.Connection
) -> None:
    other_connection.execute("BEGIN IMMEDIATE")
    # Released after a moment: the unit below must wait (its busy timeout), then write.
    threading.Timer(0.3, lambda: other_connection.execute("ROLLBACK")).start()
    _lock_subject(services)
    with services.uow(read_only=True) as uow:
        assert uow.lockouts.get(SUBJECT).locked_until == UNTIL


@on_sqlite_only
def test_writers_in_one_process_take_turns_without_timing_out(
    services_factory: Callable[..., Services],
) -> None:
    # SQLite's own busy handler polls for the write lock in sleeps of up to 100 ms, so under
    # many writers one of them can miss every turn until its timeout: the service then
    # answered service_unavailable to a customer with nothing wrong.
    services = services_factory(db_timeout_seconds=1)
    writers, units = 16, 20
    failures: list[BaseException] = []

    def write(number: int) -> None:
        for unit in range(units):
            try:
                with services.uow() as uow:
                    uow.lockouts.lock(f"email:{number}-{unit}", LockState(), UNTIL)
                    time.sleep(0.005)  # the rest of a unit's work, holding the write lock
            except BaseException as error:  # noqa: BLE001 - counted, then asserted on
                failures.append(error)

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))

    assert failures == []
    with services.uow(read_only=True) as uow:
        assert all(
            uow.lockouts.get(f"email:{n}-{u}").locked_until == UNTIL
            for n in range(writers)
            for u in range(units)
        )


def test_the_write_gate_is_granted_in_the_order_it_was_asked_for() -> None:
    gate = WriteGate()
    first = object()
    assert gate.acquire(first, timeout=1)
    granted: list[int] = []

    def wait_turn(number: int) -> None:
        assert gate.acquire(number, timeout=10)
        granted.append(number)
        gate.release(number)

    waiters = [threading.Thread(target=wait_turn, args=(n,)) for n in range(5)]
    for queued, waiter in enumerate(waiters, start=1):
        waiter.start()
        _until(lambda queued=queued: gate.waiting == queued)
    gate.release(first)
    for waiter in waiters:
        waiter.join(10)

    assert granted == [0, 1, 2, 3, 4]
    assert gate.acquire(object(), timeout=0)  # and free again once the last has left


def test_a_wait_for_the_write_gate_ends_at_its_timeout_and_leaves_the_line() -> None:
    gate = WriteGate()
    inside, late = object(), object()
    assert gate.acquire(inside, timeout=1)

    assert not gate.acquire(late, timeout=0.05)
    assert gate.waiting == 0
    gate.release(inside)
    assert gate.acquire(late, timeout=0)


def test_only_the_holder_of_the_write_gate_can_open_it() -> None:
    gate = WriteGate()
    inside = object()
    assert gate.acquire(inside, timeout=1)

    gate.release(object())  # a connection that was never inside: changes nothing

    assert not gate.acquire(object(), timeout=0)
    gate.release(inside)
    assert gate.acquire(object(), timeout=0)


@on_sqlite_only
def test_a_connection_closed_inside_a_write_opens_the_gate_to_the_next_writer(
    services_factory: Callable[..., Services],
) -> None:
    services = services_factory(db_timeout_seconds=0.5)
    connection = services.engine.connect()
    connection.begin()
    connection.invalidate()  # closed by the pool, never committed or rolled back

    _lock_subject(services)  # would wait out the timeout behind a gate left shut
    with services.uow(read_only=True) as uow:
        assert uow.lockouts.get(SUBJECT).locked_until == UNTIL


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.001)


@on_sqlite_only
def test_another_connection_going_back_to_the_pool_leaves_a_writer_inside_the_gate(
    services: Services,
) -> None:
    gate = services.engine.dialect.write_gate  # type: ignore[attr-defined]
    with services.engine.connect() as writer:
        writer.begin()
        with services.engine.connect() as reader:  # rolled back as it goes back to the pool
            reader.execution_options(isolation_level="AUTOCOMMIT")
            reader.execute(sa.text("SELECT 1"))
        assert not gate.acquire(object(), timeout=0)
    assert gate.acquire(object(), timeout=0)
