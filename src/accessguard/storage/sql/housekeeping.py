"""Deleting what no rule needs any more, so tables do not grow with every attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from accessguard.storage.sql.engine import mapped_errors
from accessguard.storage.sql.tables import (
    counters,
    devices,
    mfa_challenges,
    one_time_tokens,
    outbox,
    sessions,
    sms_codes,
)

# Ended sessions stay listed in nothing, but support may ask about them for a while.
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True)
class Purged:
    counters: int
    sessions: int
    devices: int
    tokens: int
    messages: int
    challenges: int
    sms_codes: int


def purge(engine: sa.Engine, now: datetime) -> Purged:
    """One pass; audit_events are never purged here (they are the audit trail)."""
    old = now - KEEP_ENDED
    with mapped_errors(), engine.begin() as conn:

        def delete(statement: sa.Delete) -> int:
            return conn.execute(statement).rowcount

        return Purged(
            counters=delete(counters.delete().where(counters.c.expires_at <= now)),
            sessions=delete(sessions.delete().where(sessions.c.expires_at <= old)),
            devices=delete(devices.delete().where(devices.c.expires_at <= now)),
            tokens=delete(one_time_tokens.delete().where(one_time_tokens.c.expires_at <= old)),
            messages=delete(
                outbox.delete().where(outbox.c.status != "queued", outbox.c.created_at <= old)
            ),
            challenges=delete(mfa_challenges.delete().where(mfa_challenges.c.expires_at <= old)),
            sms_codes=delete(sms_codes.delete().where(sms_codes.c.expires_at <= now)),
        )
