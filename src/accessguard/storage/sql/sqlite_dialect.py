"""SQLite through the stdlib driver, with transactions begun by SQLAlchemy the way we need.

- A transaction begins `BEGIN IMMEDIATE`: it takes the write lock up front, so a writer waits
  its turn (the busy timeout) instead of failing "database is locked" when a deferred
  transaction tries to write halfway through.
- Writers of one process take turns through a first-come-first-served gate before they ask
  SQLite. SQLite's own busy handler polls for the lock in sleeps of up to 100 ms, so with many
  writers one can miss every turn until its timeout and answer `service_unavailable`, and
  the rest wait far longer than the lock is held. The gate hands the lock to the next in
  line the moment it is free; the busy timeout still covers other processes on the file.
- A connection in `AUTOCOMMIT` (the read-only units of work and the counter reads) begins
  nothing: each statement reads the last commit on its own, never waits for a writer in WAL
  mode, and sees what it would see on PostgreSQL, whose read-only units run in autocommit too.

This is SQLAlchemy's documented recipe for taking over SQLite's BEGIN, done in the dialect
instead of a "begin" event listener: any engine event makes every statement pass through
SQLAlchemy's joined event dispatch, which cost a sign-in about a quarter of its storage CPU.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

DRIVER_NAME = "sqlite+accessguard"


class _Connection(sqlite3.Connection):
    """The stdlib connection, able to remember whether SQLAlchemy put it in autocommit and
    how long it may wait for the write lock."""

    accessguard_autocommit = False
    accessguard_wait_seconds = 5.0


class WriteGate:
    """A lock held by one connection at a time, granted in the order it was asked for, each
    wait bounded.

    `threading.Lock` lets a thread that releases it take it straight back, before a waiter
    wakes: with write units run back to back that starves the waiters, the fault this gate
    is here to end. So `release` hands the gate to the longest waiter directly. The gate
    knows its holder, because SQLAlchemy also rolls back connections that were never inside
    it (on their way back to the pool), and those must not open it under a writer."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._holder: object | None = None
        self._waiters: deque[tuple[threading.Lock, object]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def acquire(self, holder: object, timeout: float) -> bool:
        with self._guard:
            if self._holder is None:
                self._holder = holder
                return True
            turn = threading.Lock()
            turn.acquire()
            place = (turn, holder)
            self._waiters.append(place)
        if turn.acquire(timeout=timeout):
            return True  # handed over by `release`
        with self._guard:
            if place in self._waiters:
                self._waiters.remove(place)
                return False
        return True  # handed over between the timeout and the guard: ours, so take it

    def release(self, holder: object) -> None:
        """Leave the gate, if `holder` is the one inside it."""
        with self._guard:
            if self._holder is not holder:
                return
            if self._waiters:
                turn, self._holder = self._waiters.popleft()
                turn.release()  # the next in line wakes holding it
            else:
                self._holder = None


class ImmediateSQLiteDialect(SQLiteDialect_pysqlite):
    supports_statement_cache = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_gate = WriteGate()  # one per engine, so per process and file

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        connection = super().connect(*cargs, factory=_Connection, **cparams)
        connection.accessguard_wait_seconds = cparams.get("timeout", 5.0)
        return connection

    def on_connect(self) -> Callable[[Any], None]:
        driver_setup = super().on_connect()

        def setup(dbapi_connection: Any) -> None:
            if driver_setup is not None:
                driver_setup(dbapi_connection)
            # SQLAlchemy, not the driver, decides when transactions begin (do_begin).
            dbapi_connection.isolation_level = None
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        return setup

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        # The driver's own transaction handling stays off either way (None); the flag only
        # tells do_begin whether to begin. SQLite is serialisable in both cases, and
        # read_uncommitted (the PRAGMA the base class sets) only matters to shared-cache
        # connections, which are never opened here.
        dbapi_connection.accessguard_autocommit = level == "AUTOCOMMIT"

    def get_isolation_level(self, dbapi_connection: Any) -> Any:
        return "AUTOCOMMIT" if self._autocommit(dbapi_connection) else "SERIALIZABLE"

    def detect_autocommit_setting(self, dbapi_conn: Any) -> bool:
        return self._autocommit(dbapi_conn)

    def do_begin(self, dbapi_connection: Any) -> None:
        if self._autocommit(dbapi_connection):
            return
        holder = _driver_connection(dbapi_connection)
        if not self.write_gate.acquire(holder, dbapi_connection.accessguard_wait_seconds):
            # What SQLite itself raises when its busy timeout runs out.
            raise sqlite3.OperationalError("database is locked")
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._leave_gate(dbapi_connection)
            raise

    def do_commit(self, dbapi_connection: Any) -> None:
        self._ending(super().do_commit, dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        self._ending(super().do_rollback, dbapi_connection)

    def do_close(self, dbapi_connection: Any) -> None:
        # A connection invalidated in a transaction is closed without a rollback.
        self._ending(super().do_close, dbapi_connection)

    def _ending(self, end: Callable[[Any], None], dbapi_connection: Any) -> None:
        try:
            end(dbapi_connection)
        finally:
            self._leave_gate(dbapi_connection)

    def _leave_gate(self, dbapi_connection: Any) -> None:
        self.write_gate.release(_driver_connection(dbapi_connection))

    @staticmethod
    def _autocommit(dbapi_connection: Any) -> bool:
        return bool(dbapi_connection.accessguard_autocommit)


def _driver_connection(connection: Any) -> Any:
    """The sqlite3 connection itself: SQLAlchemy passes either it or its pool's proxy."""
    return getattr(connection, "dbapi_connection", connection)


registry.register("sqlite.accessguard", __name__, ImmediateSQLiteDialect.__name__)
