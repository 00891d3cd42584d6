"""How units of work begin on SQLite (storage/sql/sqlite_dialect.py): writers take the write
lock at their first statement, readers begin nothing and never wait for a writer."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from accessguard.bootstrap import Services
from accessguard.domain.model import LockState

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
