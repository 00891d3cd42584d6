"""Recovery codes: digests only, one salt per set; a code is spent by one conditional UPDATE."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from accessguard.domain.recovery_codes import StoredCodes
from accessguard.storage.sql.accounts import app_and_phone
from accessguard.storage.sql.tables import recovery_codes

_R = recovery_codes.c


def _second_factor(account_id: str) -> sa.ColumnElement[bool]:
    return sa.or_(*app_and_phone(account_id))


class SqlRecoveryCodes:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def replace(self, account_id: str, salt: str, digests: list[str], now: datetime) -> None:
        self._conn.execute(recovery_codes.delete().where(_R.account_id == account_id))
        rows = [
            {"account_id": account_id, "code_digest": d, "salt": salt, "created_at": now}
            for d in digests
        ]
        self._conn.execute(recovery_codes.insert(), rows)

    def stored(self, account_id: str) -> StoredCodes | None:
        rows = self._conn.execute(
            sa.select(_R.code_digest, _R.salt, _R.used_at).where(_R.account_id == account_id)
        ).all()
        if not rows:
            return None
        return StoredCodes(
            salt=rows[0].salt,
            unused=tuple(row.code_digest for row in rows if row.used_at is None),
            used=tuple(row.code_digest for row in rows if row.used_at is not None),
        )

    def consume(self, account_id: str, code_digest: str, now: datetime) -> bool:
        # One UPDATE … WHERE used_at IS NULL RETURNING: of parallel uses of a code the database
        # lets exactly one match (reading used_at first would let two through).
        stmt = (
            recovery_codes.update()
            .where(_R.account_id == account_id, _R.code_digest == code_digest, _R.used_at.is_(None))
            .values(used_at=now)
            .returning(_R.code_digest)
        )
        return self._conn.execute(stmt).first() is not None

    def count_unused(self, account_id: str) -> int:
        stmt = sa.select(sa.func.count()).where(_R.account_id == account_id, _R.used_at.is_(None))
        return int(self._conn.execute(stmt).scalar_one())

    def delete_unless_second_factor(self, account_id: str) -> int:
        # Codes without an app or a phone would be a lone factor of their own: not allowed.
        stmt = recovery_codes.delete().where(
            _R.account_id == account_id, sa.not_(_second_factor(account_id))
        )
        return int(self._conn.execute(stmt).rowcount)
