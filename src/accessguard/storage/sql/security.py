"""Single-use tokens, lockouts and the audit trail: the records where races matter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from accessguard.domain.model import AuditEvent, LockState
from accessguard.storage.sql.accounts import LOCK_COLUMNS, lock_state, upsert
from accessguard.storage.sql.direct import DirectStatement
from accessguard.storage.sql.held_writes import DirectRunner
from accessguard.storage.sql.tables import accounts, audit_events, lockouts, one_time_tokens


class SqlTokens:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def add(
        self, purpose: str, account_id: str, token_digest: str, expires_at: datetime, now: datetime
    ) -> None:
        self._conn.execute(
            one_time_tokens.insert().values(
                token_digest=token_digest,
                purpose=purpose,
                account_id=account_id,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def void_all(self, purpose: str, account_id: str, at: datetime) -> None:
        t = one_time_tokens.c
        unused = sa.select(t.token_digest).where(
            t.account_id == account_id, t.purpose == purpose, t.used_at.is_(None)
        )
        if self._conn.dialect.name == "postgresql":
            # Whoever voids an account's links next adds one (reset_link): the account's row is
            # locked first so that two issuers take turns, or each would miss the other's new
            # link and both would stay usable. SQLite writers take turns anyway. A token that
            # a reset is using right now is skipped, not waited for: that reset holds it and
            # then waits for this row, which would be a deadlock; it is being spent anyway.
            self._conn.execute(
                sa.select(accounts.c.id).where(accounts.c.id == account_id).with_for_update()
            )
            unused = unused.with_for_update(skip_locked=True)
        self._conn.execute(
            one_time_tokens.update()
            .where(t.token_digest.in_(unused.scalar_subquery()), t.used_at.is_(None))
            .values(used_at=at)
        )

    def _usable(
        self, purpose: str, token_digest: str, now: datetime
    ) -> list[sa.ColumnElement[bool]]:
        t = one_time_tokens.c
        return [
            t.token_digest == token_digest,
            t.purpose == purpose,
            t.used_at.is_(None),
            t.expires_at > now,
        ]

    def consume(self, purpose: str, token_digest: str, now: datetime) -> str | None:
        # One UPDATE … RETURNING: of parallel claims the database lets exactly one match
        # `used_at IS NULL` (a read-then-write here would let two through).
        stmt = (
            one_time_tokens.update()
            .where(*self._usable(purpose, token_digest, now))
            .values(used_at=now)
            .returning(one_time_tokens.c.account_id)
        )
        return self._conn.execute(stmt).scalar_one_or_none()

    def any_usable(self, purpose: str, account_id: str, now: datetime) -> bool:
        t = one_time_tokens.c
        stmt = sa.select(sa.literal(1)).where(
            t.account_id == account_id,
            t.purpose == purpose,
            t.used_at.is_(None),
            t.expires_at > now,
        )
        return self._conn.execute(stmt).first() is not None

    def issued_to(self, purpose: str, token_digest: str) -> str | None:
        t = one_time_tokens.c
        stmt = sa.select(t.account_id).where(t.token_digest == token_digest, t.purpose == purpose)
        return self._conn.execute(stmt).scalar_one_or_none()

    def usable_owner(self, purpose: str, token_digest: str, now: datetime) -> str | None:
        stmt = sa.select(one_time_tokens.c.account_id).where(
            *self._usable(purpose, token_digest, now)
        )
        return self._conn.execute(stmt).scalar_one_or_none()


# Every sign-in reads its lock twice: run on the driver (storage/sql/direct.py).
LOCK_STATE = DirectStatement(
    sa.select(*LOCK_COLUMNS).where(lockouts.c.subject == sa.bindparam("subject"))
)


class SqlLockouts:
    def __init__(self, conn: sa.Connection, runner: DirectRunner) -> None:
        self._conn = conn
        self._runner = runner

    def get(self, subject: str) -> LockState:
        return lock_state(self._runner.read(LOCK_STATE, {"subject": subject}))

    def lock(self, subject: str, seen: LockState, until: datetime) -> bool:
        values = {"generation": seen.generation + 1, "level": seen.level + 1, "locked_until": until}
        updated = self._conn.execute(
            lockouts.update()
            .where(lockouts.c.subject == subject, lockouts.c.generation == seen.generation)
            .values(values)
        ).rowcount
        if updated or seen.generation:
            return bool(updated)
        inserted = self._conn.execute(
            upsert(self._conn, lockouts)
            .values(subject=subject, **values)
            .on_conflict_do_nothing(index_elements=[lockouts.c.subject])
            .returning(lockouts.c.subject)
        ).first()
        return inserted is not None

    def clear_level(self, subject: str) -> None:
        self._conn.execute(lockouts.update().where(lockouts.c.subject == subject).values(level=0))

    def unlock(self, subjects: list[str]) -> None:
        for subject in subjects:
            stmt = upsert(self._conn, lockouts).values(
                subject=subject, generation=1, level=0, locked_until=None
            )
            self._conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[lockouts.c.subject],
                    set_={
                        "generation": lockouts.c.generation + 1,
                        "level": 0,
                        "locked_until": None,
                    },
                )
            )


# Built once, values passed at execution: `.values()` per call cost as much CPU as the insert.
_AUDIT_FIELDS = ("at", "kind", "outcome", "account_id", "ip", "user_agent", "detail")
RECORD_EVENT = DirectStatement(audit_events.insert(), _AUDIT_FIELDS)


def event_values(event: AuditEvent) -> dict[str, Any]:
    """RECORD_EVENT's values, cut to the columns' lengths."""
    return {
        "at": event.at,
        "kind": event.kind,
        "outcome": event.outcome,
        "account_id": event.account_id,
        "ip": event.ip[:64],
        "user_agent": event.user_agent[:300],
        "detail": event.detail,
    }


class SqlAudit:
    def __init__(self, conn: sa.Connection, runner: DirectRunner) -> None:
        self._conn = conn
        self._runner = runner

    def record(self, event: AuditEvent) -> None:
        self._runner.insert(RECORD_EVENT, event_values(event))

    def sign_ins(self, account_id: str, limit: int) -> list[AuditEvent]:
        a = audit_events.c
        rows = self._conn.execute(
            sa.select(a.at, a.kind, a.outcome, a.account_id, a.ip, a.user_agent, a.detail)
            .where(a.account_id == account_id, a.kind == "sign_in")
            .order_by(a.id.desc())
            .limit(limit)
        ).mappings()
        return [AuditEvent(**row) for row in rows]
