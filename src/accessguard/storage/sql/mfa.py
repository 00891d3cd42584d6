"""Authenticator-app credentials. Replay protection is one conditional UPDATE per claim."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from accessguard.domain.mfa_totp import TotpCredential
from accessguard.storage.sql.accounts import upsert
from accessguard.storage.sql.tables import totp_credentials

_T = totp_credentials.c


class SqlTotp:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, account_id: str) -> TotpCredential | None:
        row = self._conn.execute(
            sa.select(
                _T.account_id, _T.sealed_secret, _T.created_at, _T.confirmed_at, _T.last_step
            ).where(_T.account_id == account_id)
        ).first()
        return TotpCredential(*row) if row else None

    def put_pending(self, account_id: str, sealed_secret: str, now: datetime) -> bool:
        self._conn.execute(
            totp_credentials.delete().where(_T.account_id == account_id, _T.confirmed_at.is_(None))
        )
        inserted = self._conn.execute(
            upsert(self._conn, totp_credentials)
            .values(account_id=account_id, sealed_secret=sealed_secret, created_at=now)
            .on_conflict_do_nothing(index_elements=[_T.account_id])
            .returning(_T.account_id)
        ).first()
        return inserted is not None

    def activate(self, account_id: str, sealed_secret: str, step: int, now: datetime) -> bool:
        stmt = (
            totp_credentials.update()
            .where(
                _T.account_id == account_id,
                _T.sealed_secret == sealed_secret,
                _T.confirmed_at.is_(None),
                _T.last_step < step,
            )
            .values(confirmed_at=now, last_step=step)
            .returning(_T.account_id)
        )
        return self._conn.execute(stmt).first() is not None

    def claim_step(self, account_id: str, step: int) -> bool:
        # One UPDATE … WHERE last_step < :step RETURNING: the database lets exactly one of
        # parallel claims of a step match (reading last_step first would let two through).
        stmt = (
            totp_credentials.update()
            .where(_T.account_id == account_id, _T.last_step < step)
            .values(last_step=step)
            .returning(_T.account_id)
        )
        return self._conn.execute(stmt).first() is not None

    def delete(self, account_id: str) -> bool:
        stmt = totp_credentials.delete().where(_T.account_id == account_id)
        return bool(self._conn.execute(stmt).rowcount)
