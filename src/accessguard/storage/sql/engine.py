"""Engines with time limits on every wait, and the one mapping of driver errors to ours."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from accessguard.domain.errors import ServiceUnavailable

log = logging.getLogger(__name__)

READ_ONLY = {"accessguard_read_only": True}


def create_engine(
    url: str, *, timeout_seconds: float, pool_size: int = 20, max_overflow: int = 20
) -> sa.Engine:
    """An engine that holds at most `pool_size + max_overflow` connections; a request that
    finds none free waits `timeout_seconds`, then is `service_unavailable`."""
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": timeout_seconds}
    if url.startswith("sqlite"):
        return _sqlite_engine(url, timeout_seconds, pool)
    millis = int(timeout_seconds * 1000)
    return sa.create_engine(
        url,
        **pool,
        # No pre-ping: it costs a round trip per checkout. A connection that died with the
        # server fails once as service_unavailable, and SQLAlchemy then discards the pool.
        pool_recycle=1800,
        connect_args={
            "connect_timeout": max(1, int(timeout_seconds)),
            # A statement or a lock wait longer than this is a fault, not a slow answer.
            "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
        },
    )


def _sqlite_engine(url: str, timeout_seconds: float, pool: dict[str, Any]) -> sa.Engine:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        **pool,
        connect_args={"timeout": timeout_seconds, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that later writes
        # fails at once with "database is locked" instead of waiting its turn.
        # Readers that promise not to write begin deferred and never queue behind writers.
        read_only = conn.get_execution_options().get("accessguard_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def unavailable(error: BaseException) -> ServiceUnavailable | None:
    """Our error for database trouble (fail closed, retryable, nothing leaked), else None."""
    if isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError) or (
        isinstance(error, exc.DBAPIError) and error.connection_invalidated
    ):
        log.warning(
            "database unavailable: %s", type(getattr(error, "orig", None) or error).__name__
        )
        return ServiceUnavailable()
    return None


@contextmanager
def mapped_errors() -> Iterator[None]:
    try:
        yield
    except exc.SQLAlchemyError as error:
        mapped = unavailable(error)
        if mapped is None:
            raise
        raise mapped from error
