"""Counters in the database, for a single instance or when Redis is not configured.

Each call is its own short transaction, committed at once, so parallel attempts see each
other's counts immediately (they are not part of the use case's transaction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from accessguard.storage.sql.accounts import upsert
from accessguard.storage.sql.direct import DirectStatement
from accessguard.storage.sql.engine import mapped_errors
from accessguard.storage.sql.tables import UTCDateTime, counters

# Built once: sign-in reads two counters on every attempt, and composing a statement costs as
# much CPU as running it.
_COUNT = DirectStatement(
    sa.select(counters.c.count, counters.c.expires_at).where(counters.c.key == sa.bindparam("key"))
)
_RESET = counters.delete().where(counters.c.key == sa.bindparam("key"))


class SqlThrottleStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def hit(self, key: str, window_seconds: int, now: datetime) -> int:
        now_ = sa.literal(now, UTCDateTime())
        new_expiry = sa.literal(now + timedelta(seconds=window_seconds), UTCDateTime())
        expired = counters.c.expires_at <= now_
        with mapped_errors(), self._engine.begin() as conn:
            upsert_counter = upsert(conn, counters).values(
                key=key, count=1, expires_at=now + timedelta(seconds=window_seconds)
            )
            # One statement: INSERT … ON CONFLICT DO UPDATE … RETURNING is atomic on both
            # SQLite and PostgreSQL, so 50 parallel failures count to exactly 50.
            stmt = upsert_counter.on_conflict_do_update(
                index_elements=[counters.c.key],
                set_={
                    "count": sa.case((expired, 1), else_=counters.c.count + 1),
                    "expires_at": sa.case((expired, new_expiry), else_=counters.c.expires_at),
                },
            ).returning(counters.c.count)
            return int(conn.execute(stmt).scalar_one())

    def count(self, key: str, now: datetime) -> tuple[int, int]:
        with mapped_errors(), self._engine.connect() as conn:
            # One read needs no transaction: autocommit spares the BEGIN and ROLLBACK (round
            # trips on PostgreSQL), and on SQLite it never waits for a writer.
            conn.execution_options(isolation_level="AUTOCOMMIT")
            row = _COUNT.first(conn, {"key": key})
        return _counted(row, now)

    def counts(self, keys: Sequence[str], now: datetime) -> list[int]:
        with mapped_errors(), self._engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            # Each read sees the last commit, as Redis's MGET would: every counter is
            # written in its own committed statement.
            return [_counted(_COUNT.first(conn, {"key": key}), now)[0] for key in keys]

    def reset(self, key: str) -> None:
        with mapped_errors(), self._engine.begin() as conn:
            conn.execute(_RESET, {"key": key})

    def purge_expired(self, now: datetime) -> int:
        with mapped_errors(), self._engine.begin() as conn:
            return conn.execute(counters.delete().where(counters.c.expires_at <= now)).rowcount


def _counted(row: dict[str, Any] | None, now: datetime) -> tuple[int, int]:
    """A counter row's count and seconds left, or (0, 0) when absent or its window ended."""
    if row is None:
        return 0, 0
    count, expires_at = int(row["count"]), row["expires_at"]
    if expires_at <= now:
        return 0, 0
    return count, math.ceil((expires_at - now).total_seconds())
