"""Half-finished sign-ins. Every change is one conditional UPDATE, so parallel requests with
one `mfa_token` cannot both finish it or miss each other's wrong codes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from accessguard.domain.model import Challenge
from accessguard.storage.sql.tables import mfa_challenges

_C = mfa_challenges.c
_FIELDS = [getattr(_C, name) for name in Challenge.__dataclass_fields__]


class SqlChallenges:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def add(self, challenge: Challenge) -> None:
        values = {column.name: getattr(challenge, column.name) for column in _FIELDS}
        self._conn.execute(mfa_challenges.insert().values(values))

    def get(self, token_digest: str) -> Challenge | None:
        row = self._conn.execute(sa.select(*_FIELDS).where(_C.token_digest == token_digest)).first()
        return Challenge(*row) if row else None

    def count_failure(self, token_digest: str) -> int:
        stmt = (
            mfa_challenges.update()
            .where(_C.token_digest == token_digest)
            .values(failures=_C.failures + 1)
            .returning(_C.failures)
        )
        return int(self._conn.execute(stmt).scalar_one_or_none() or 0)

    def consume(self, token_digest: str, now: datetime) -> bool:
        stmt = (
            mfa_challenges.update()
            .where(_C.token_digest == token_digest, _C.used_at.is_(None), _C.expires_at > now)
            .values(used_at=now)
            .returning(_C.token_digest)
        )
        return self._conn.execute(stmt).first() is not None

    def release(self, token_digest: str, claimed_at: datetime) -> None:
        # Only the claim made at `claimed_at`: a void_all since then stays in force.
        self._conn.execute(
            mfa_challenges.update()
            .where(_C.token_digest == token_digest, _C.used_at == claimed_at)
            .values(used_at=None)
        )

    def void_all(self, account_id: str, now: datetime) -> int:
        # Rows that another request holds right now are skipped, not waited for: waiting here
        # deadlocked with racing second steps. A skipped one is still refused while its
        # account is locked (the second step checks the lock first) and voided then.
        free = (
            sa.select(_C.token_digest)
            .where(_C.account_id == account_id, _C.used_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        stmt = (
            mfa_challenges.update()
            .where(_C.token_digest.in_(free.scalar_subquery()), _C.used_at.is_(None))
            .values(used_at=now)
        )
        return self._conn.execute(stmt).rowcount
