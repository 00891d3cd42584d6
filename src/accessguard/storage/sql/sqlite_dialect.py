"""SQLite through the stdlib driver, with transactions begun by SQLAlchemy the way we need.

- A transaction begins `BEGIN IMMEDIATE`: it takes the write lock up front, so a writer waits
  its turn (the busy timeout) instead of failing "database is locked" when a deferred
  transaction tries to write halfway through.
- A connection in `AUTOCOMMIT` (the read-only units of work and the counter reads) begins
  nothing: each statement reads the last commit on its own, never waits for a writer in WAL
  mode, and sees what it would see on PostgreSQL, whose read-only units run in autocommit too.

This is SQLAlchemy's documented recipe for taking over SQLite's BEGIN, done in the dialect
instead of a "begin" event listener: any engine event makes every statement pass through
SQLAlchemy's joined event dispatch, which cost a sign-in about a quarter of its storage CPU.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

DRIVER_NAME = "sqlite+accessguard"


class _Connection(sqlite3.Connection):
    """The stdlib connection, able to remember whether SQLAlchemy put it in autocommit."""

    accessguard_autocommit = False


class ImmediateSQLiteDialect(SQLiteDialect_pysqlite):
    supports_statement_cache = True

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        return super().connect(*cargs, factory=_Connection, **cparams)

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
        if not self._autocommit(dbapi_connection):
            dbapi_connection.execute("BEGIN IMMEDIATE")

    @staticmethod
    def _autocommit(dbapi_connection: Any) -> bool:
        return bool(dbapi_connection.accessguard_autocommit)


registry.register("sqlite.accessguard", __name__, ImmediateSQLiteDialect.__name__)
