"""Engines with time limits on every wait, and the one mapping of driver errors to ours."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from accessguard.domain.errors import ServiceUnavailable
from accessguard.storage.sql import sqlite_dialect

log = logging.getLogger(__name__)


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
        # A failing statement's message would otherwise quote its parameters in the log:
        # emails, token digests, password hashes.
        hide_parameters=True,
        # No pre-ping: it costs a round trip per checkout. A connection that died with the
        # server fails once as service_unavailable, and SQLAlchemy then discards the pool.
        pool_recycle=1800,
        connect_args={
            "connect_timeout": max(1, int(timeout_seconds)),
            # A host that vanishes mid-statement sends no error, and the server-side limits
            # below never fire: the kernel must notice. Keep-alives find a dead idle peer in
            # about a minute; tcp_user_timeout drops a connection whose sent bytes go
            # unacknowledged that long, which frees the thread the request deadline
            # (web/middleware/deadline.py) gave up on.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "tcp_user_timeout": max(1000, millis * 4),
            # A statement or a lock wait longer than this is a fault, not a slow answer.
            "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
        },
    )


def _sqlite_engine(url: str, timeout_seconds: float, pool: dict[str, Any]) -> sa.Engine:
    address = sa.engine.make_url(url).set(drivername=sqlite_dialect.DRIVER_NAME)
    if address.database and address.database != ":memory:":
        Path(address.database).parent.mkdir(parents=True, exist_ok=True)
    # The dialect begins writers IMMEDIATE and readers in autocommit not at all (its module).
    return sa.create_engine(
        address,
        **pool,
        hide_parameters=True,  # as on PostgreSQL: no parameters in a logged error
        connect_args={"timeout": timeout_seconds, "check_same_thread": False},
    )


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
