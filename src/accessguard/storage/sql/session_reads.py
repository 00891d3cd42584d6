"""The reads of every authenticated API request (`SessionReads`), awaited on the event loop.

On PostgreSQL they go through asyncpg, straight from the event loop. Measured: one session
lookup through SQLAlchemy and psycopg on a worker thread costs the server more CPU than a
whole `/healthz`, and on asyncpg about a third of that (docs/performance.md). The statements
are the synchronous repositories' own SQLAlchemy selects, compiled once for asyncpg, so the
two paths cannot drift apart; only their WHERE takes an array of digests, so that the
lookups of one turn of the loop go as one statement.

SQLite has no such driver; its reads run the synchronous repositories on a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import anyio.to_thread
import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from accessguard.domain.errors import ServiceUnavailable
from accessguard.domain.model import Account, SecondFactors, Session
from accessguard.domain.ports import UnitOfWorkFactory
from accessguard.domain.recovery_cases import ActiveRecovery
from accessguard.storage.sql.accounts import (
    MANY_WITH_ACCOUNT,
    MANY_WITH_ACCOUNT_AND_FACTORS,
    TOUCH_SESSION,
    active_recovery_from,
    factors_from,
    session_and_account,
)
from accessguard.storage.sql.direct import Compiled, DirectStatement
from accessguard.storage.together import ReadTogether

log = logging.getLogger(__name__)

# Database trouble, not a bug: the same cases `engine.unavailable` maps for psycopg
# (connection refused or lost, timeouts, server shutting down or full, bad credentials or
# database name, a statement or lock wait cancelled by its time limit).
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.LockNotAvailableError,
)


# What pg_stat_activity shows for these connections, so an operator can tell the pools apart.
APPLICATION_NAME = "accessguard-session-reads"


ASYNCPG = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
# Rows stay asyncpg's records: asyncpg already gives aware datetimes and Python types.
_WITH_ACCOUNT = DirectStatement(MANY_WITH_ACCOUNT).compiled(ASYNCPG)
_TOUCH = DirectStatement(TOUCH_SESSION).compiled(ASYNCPG)
_WITH_ACCOUNT_AND_FACTORS = DirectStatement(MANY_WITH_ACCOUNT_AND_FACTORS).compiled(ASYNCPG)


# What asyncpg reads from a DSN's query string, and the startup parameters PostgreSQL itself
# takes. Any other parameter there is one of libpq's client settings (connect_timeout,
# keepalives, …): psycopg honours it, asyncpg would pass it to the server as a setting, and
# the server refuses every connection with "unrecognized configuration parameter".
_ASYNCPG_PARAMETERS = frozenset(
    {
        "host",
        "port",
        "user",
        "password",
        "passfile",
        "dbname",
        "database",
        "service",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "options",
        "application_name",
        "client_encoding",
    }
)


def asyncpg_dsn(database_url: str) -> str:
    """ACCESSGUARD_DATABASE_URL (SQLAlchemy's form, `postgresql+psycopg://…`) for asyncpg,
    without the libpq client settings asyncpg does not know (its own time limits are ours)."""
    url = sa.engine.make_url(database_url).set(drivername="postgresql")
    kept = {k: v for k, v in url.query.items() if k in _ASYNCPG_PARAMETERS}
    return url.set(query=kept).render_as_string(hide_password=False)


class AsyncpgSessionReads:
    """`SessionReads` on an asyncpg pool.

    A pool belongs to the event loop that made it, so there is one per running loop: uvicorn
    runs one per worker process, a test client one per client. The app's lifespan closes the
    pool of its loop (`aclose`); `close` ends whatever is left when the services shut down.
    """

    def __init__(self, database_url: str, *, timeout_seconds: float, max_size: int = 10) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._timeout = timeout_seconds
        self._max_size = max_size
        self._pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}
        self._creating: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._lookups: dict[tuple[asyncio.AbstractEventLoop, Compiled], ReadTogether] = {}

    async def with_account(self, token_digest: str) -> tuple[Session, Account] | None:
        row = await self._look_up(_WITH_ACCOUNT, token_digest)
        return None if row is None else session_and_account(row)

    async def touch(self, session_id: str, at: datetime) -> None:
        await self._run(_TOUCH, session_id=session_id, at=at)

    async def with_account_and_factors(
        self, token_digest: str
    ) -> tuple[Session, Account, SecondFactors, ActiveRecovery | None] | None:
        row = await self._look_up(_WITH_ACCOUNT_AND_FACTORS, token_digest)
        if row is None:
            return None
        return (*session_and_account(row), factors_from(row), active_recovery_from(row))

    async def _look_up(self, statement: Compiled, token_digest: str) -> Any:
        """The session's row (None for an unknown digest). The lookups the loop's requests ask
        for in one turn go as one statement: under load the loop takes in several requests
        at a time, and each statement costs it a round trip and the database a wake-up
        (storage/together.py)."""
        key = (asyncio.get_running_loop(), statement)
        lookups = self._lookups.get(key)
        if lookups is None:

            async def rows(digests: list[str]) -> list[Any]:
                rows = await self._all(statement, {"digests": digests})
                found = {row["presented"]: row for row in rows}
                return [found.get(digest) for digest in digests]

            lookups = self._lookups[key] = ReadTogether(rows)
        (row,) = await lookups.read([token_digest])
        return row

    async def first(self, statement: Compiled, values: Mapping[str, Any]) -> Any:
        """The statement's first row (an asyncpg record; None if it has none), or None for a
        statement that returns none: sign-in's statements (storage/signin_store.py) share
        this pool."""
        return await self._run(statement, **values)

    async def aclose(self) -> None:
        """Close the running loop's pool (the app's lifespan calls this at shutdown)."""
        loop = asyncio.get_running_loop()
        self._creating.pop(loop, None)
        for key in [key for key in self._lookups if key[0] is loop]:
            del self._lookups[key]
        pool = self._pools.pop(loop, None)
        if pool is not None:
            await self._close(pool)

    def close(self) -> None:
        """Close the pools that no `aclose` closed (a loop stopped without its app's shutdown).

        A pool can only be closed on its own loop; a loop already closed can close nothing
        more, and its connections end with the process."""
        pools, self._pools, self._creating = self._pools, {}, {}
        self._lookups.clear()
        for loop, pool in pools.items():
            if loop.is_closed():
                log.warning("an event loop closed with its database pool open")
            elif loop.is_running():
                closing = asyncio.run_coroutine_threadsafe(self._close(pool), loop)
                if _loop_of_this_thread() is not loop:
                    # Wait, so that the loop cannot stop with the close half done (asyncio
                    # would destroy the pending task); `_close` is bounded by the timeout.
                    try:
                        closing.result(timeout=self._timeout + 1)
                    except TimeoutError:
                        log.warning("a database pool did not close in time on its loop")
            else:
                try:
                    loop.run_until_complete(self._close(pool))
                except RuntimeError:  # this thread runs another loop: end it without waiting
                    pool.terminate()

    async def _close(self, pool: asyncpg.Pool) -> None:
        try:
            await asyncio.wait_for(pool.close(), self._timeout)
        except TimeoutError:
            pool.terminate()

    async def _run(self, statement: Compiled, **values: Any) -> Any:
        """The statement's first row (None if it has none) on a pooled connection."""
        rows = await self._all(statement, values)
        return rows[0] if rows else None

    async def _all(self, statement: Compiled, values: Mapping[str, Any]) -> list[Any]:
        """The statement's rows, on a pooled connection.

        Written out rather than as an async context manager: this runs on every API request,
        and the generator machinery cost as much as the pool itself."""
        try:
            pool = self._pools.get(asyncio.get_running_loop()) or await self._pool()
            # One deadline for the wait on the pool and the connect, if any (asyncpg's own
            # acquire timeout starts a task per call); each statement then has the pool's
            # command_timeout, and the server its statement_timeout.
            async with asyncio.timeout(self._timeout):
                connection = await pool.acquire()
            try:
                rows: list[Any] = await connection.fetch(
                    statement.sql, *statement.parameters(values)
                )
                return rows
            finally:
                await pool.release(connection)
        except _UNAVAILABLE as error:
            log.warning("database unavailable: %s", type(error).__name__)
            raise ServiceUnavailable() from error

    async def _pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        lock = self._creating.setdefault(loop, asyncio.Lock())
        async with lock:
            pool = self._pools.get(loop)
            if pool is None:
                # min_size=0: making the pool connects nothing, so a database that is down
                # fails the query that needs it (503), not the pool, and the next one retries.
                pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._max_size,
                    timeout=self._timeout,
                    command_timeout=self._timeout,
                    reset=_nothing_to_reset,
                    # A statement or lock wait longer than this is a fault, as on the engine.
                    server_settings={
                        "application_name": APPLICATION_NAME,
                        "statement_timeout": str(int(self._timeout * 1000)),
                        "lock_timeout": str(int(self._timeout * 1000)),
                    },
                )
                self._pools[loop] = pool
        return pool


def _loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    """asyncpg's default reset runs a statement (RESET ALL, UNLISTEN *, …) on every release:
    a second round trip per read, measured at 7 % of /me's server CPU. These connections run
    single autocommit statements only, and never SET, LISTEN, lock or open a cursor, so there
    is nothing to reset; asyncpg still rolls back any open transaction itself."""


class ThreadedSessionReads:
    """`SessionReads` for SQLite: the synchronous repositories, on a worker thread."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def with_account(self, token_digest: str) -> tuple[Session, Account] | None:
        def read() -> tuple[Session, Account] | None:
            with self._uow(read_only=True) as uow:
                return uow.sessions.with_account(token_digest)

        return await anyio.to_thread.run_sync(read)

    async def touch(self, session_id: str, at: datetime) -> None:
        def write() -> None:
            with self._uow() as uow:
                uow.sessions.touch(session_id, at)

        await anyio.to_thread.run_sync(write)

    async def with_account_and_factors(
        self, token_digest: str
    ) -> tuple[Session, Account, SecondFactors, ActiveRecovery | None] | None:
        def read() -> tuple[Session, Account, SecondFactors, ActiveRecovery | None] | None:
            with self._uow(read_only=True) as uow:
                found = uow.sessions.with_account(token_digest)
                if found is None:
                    return None
                account_id = found[1].id
                case = uow.recovery_cases.active_for(account_id)
                recovery = ActiveRecovery.of(case) if case else None
                return (*found, uow.accounts.second_factors(account_id), recovery)

        return await anyio.to_thread.run_sync(read)

    async def aclose(self) -> None:
        """Nothing to close: the engine's pool belongs to the services."""

    def close(self) -> None:
        """Nothing to close: the engine's pool belongs to the services."""
