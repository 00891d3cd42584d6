"""`SessionReads` on SQLite: the session check's read runs on the event loop itself.

A read of one indexed row from a WAL database costs tens of microseconds and never waits
for a writer (WAL readers see the last commit without a lock). A worker-thread hop and a
SQLAlchemy unit of work around it cost ten times that: GET /api/v1/me spent 2.7 ms of server
CPU against 0.6 ms for /healthz (docs/performance.md). So the read goes straight to the
stdlib driver on a connection of the loop's own, with the very statements the repositories
run, compiled for SQLite once, and SQLAlchemy's own type conversions on the row.

It waits for nothing: the connection's busy timeout is zero and it is query-only. In the rare
case that SQLite answers "busy" to a reader (recovering a WAL after a crash), the read goes
to a worker thread through the repositories, which wait their normal time. The `touch` is a
write, so it always goes there.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import sqlite

from accessguard.domain.errors import ServiceUnavailable
from accessguard.domain.model import Account, SecondFactors, Session
from accessguard.domain.recovery_cases import ActiveRecovery
from accessguard.storage.sql.accounts import (
    WITH_ACCOUNT,
    WITH_ACCOUNT_AND_FACTORS,
    active_recovery_from,
    factors_from,
    session_and_account,
)
from accessguard.storage.sql.direct import Compiled, DirectStatement
from accessguard.storage.sql.session_reads import ThreadedSessionReads

log = logging.getLogger(__name__)

_DIALECT = sqlite.dialect()


# The repositories' own statements, compiled once for SQLite with SQLAlchemy's conversions.
_WITH_ACCOUNT = DirectStatement(WITH_ACCOUNT).compiled(_DIALECT)
_WITH_ACCOUNT_AND_FACTORS = DirectStatement(WITH_ACCOUNT_AND_FACTORS).compiled(_DIALECT)


class SqliteSessionReads:
    """One query-only connection per running event loop (one per worker process in
    production); the rest is `ThreadedSessionReads`."""

    def __init__(self, database_path: str, on_thread: ThreadedSessionReads) -> None:
        self._path = database_path
        self._on_thread = on_thread
        self._connections: dict[asyncio.AbstractEventLoop, sqlite3.Connection] = {}

    async def with_account(self, token_digest: str) -> tuple[Session, Account] | None:
        row = self._read(_WITH_ACCOUNT, token_digest)
        if row is _BUSY:
            return await self._on_thread.with_account(token_digest)
        return None if row is None else session_and_account(row)

    async def with_account_and_factors(
        self, token_digest: str
    ) -> tuple[Session, Account, SecondFactors, ActiveRecovery | None] | None:
        row = self._read(_WITH_ACCOUNT_AND_FACTORS, token_digest)
        if row is _BUSY:
            return await self._on_thread.with_account_and_factors(token_digest)
        if row is None:
            return None
        return (*session_and_account(row), factors_from(row), active_recovery_from(row))

    async def touch(self, session_id: str, at: datetime) -> None:
        await self._on_thread.touch(session_id, at)

    async def aclose(self) -> None:
        connection = self._connections.pop(asyncio.get_running_loop(), None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()

    def _read(self, statement: Compiled, token_digest: str) -> Any:
        """The row as a mapping, None when there is none, or _BUSY."""
        try:
            parameters = statement.parameters({"digest": token_digest})
            cursor = self._connection().execute(statement.sql, parameters)
            found = cursor.fetchone()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return _BUSY
            # What the engine maps too: the database file is gone, unreadable or broken.
            log.warning("database unavailable: %s", error.sqlite_errorname)
            raise ServiceUnavailable() from error
        return None if found is None else statement.row(found)

    def _connection(self) -> sqlite3.Connection:
        loop = asyncio.get_running_loop()
        connection = self._connections.get(loop)
        if connection is None:
            # check_same_thread=False only so that close() may end it from another thread;
            # it is used by its loop's thread alone.
            connection = sqlite3.connect(
                self._path, timeout=0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA query_only = ON")
            self._connections[loop] = connection
        return connection


_BUSY = object()
