"""Authenticator-app credentials. A code's step is claimed with conditional statements the
database serialises: `last_step` for codes in the window, `totp_burnt_steps` for single steps."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from accessguard.domain.mfa_totp import TotpCredential
from accessguard.storage.sql.accounts import upsert
from accessguard.storage.sql.tables import totp_burnt_steps, totp_credentials

_T = totp_credentials.c
_B = totp_burnt_steps.c


class SqlTotp:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, account_id: str) -> TotpCredential | None:
        row = self._conn.execute(
            sa.select(
                _T.account_id,
                _T.sealed_secret,
                _T.created_at,
                _T.confirmed_at,
                _T.last_step,
                _T.started_by_session,
            ).where(_T.account_id == account_id)
        ).first()
        return TotpCredential(*row) if row else None

    def put_pending(
        self, account_id: str, sealed_secret: str, now: datetime, *, session_id: str
    ) -> bool:
        # One statement, so that two set-ups started at once (a double click, two tabs) both
        # get a seed, the later replacing the earlier; a delete then an insert let the loser's
        # insert meet the winner's row and refuse. An active credential is never replaced.
        fresh = {
            "sealed_secret": sealed_secret,
            "created_at": now,
            "started_by_session": session_id,
        }
        statement = upsert(self._conn, totp_credentials).values(account_id=account_id, **fresh)
        stored = self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[_T.account_id],
                set_={**fresh, "last_step": -1},
                where=_T.confirmed_at.is_(None),
            ).returning(_T.account_id)
        ).first()
        if stored is None:
            return False
        self._forget_burnt(account_id)  # they were steps of the replaced seed
        return True

    def activate(self, account_id: str, sealed_secret: str, step: int, now: datetime) -> bool:
        return self._claim(
            account_id,
            step,
            now,
            [_T.sealed_secret == sealed_secret, _T.confirmed_at.is_(None)],
            confirmed_at=now,
        )

    def claim_step(self, account_id: str, step: int, now: datetime) -> bool:
        return self._claim(account_id, step, now, [_T.confirmed_at.is_not(None)])

    def burn_step(self, account_id: str, step: int, now: datetime) -> bool:
        return self._burn(account_id, step, now)

    def delete(self, account_id: str) -> bool:
        self._forget_burnt(account_id)
        stmt = totp_credentials.delete().where(_T.account_id == account_id)
        return bool(self._conn.execute(stmt).rowcount)

    def _burn(self, account_id: str, step: int, now: datetime) -> bool:
        # INSERT … ON CONFLICT DO NOTHING RETURNING: the primary key lets exactly one of
        # parallel claims of a step insert it.
        stmt = (
            upsert(self._conn, totp_burnt_steps)
            .values(account_id=account_id, step=step, burnt_at=now)
            .on_conflict_do_nothing(index_elements=[_B.account_id, _B.step])
            .returning(_B.step)
        )
        return self._conn.execute(stmt).first() is not None

    def _claim(
        self,
        account_id: str,
        step: int,
        now: datetime,
        conditions: list[sa.ColumnElement[bool]],
        **values: object,
    ) -> bool:
        # The step goes through the same primary key as a drifted code's, so a step burnt by
        # an instance whose clock sees it as drift is never also accepted here; the UPDATE …
        # WHERE last_step < :step then refuses it and every earlier step (replay).
        if not self._burn(account_id, step, now):
            return False
        moved = self._conn.execute(
            totp_credentials.update()
            .where(_T.account_id == account_id, _T.last_step < step, *conditions)
            .values(last_step=step, **values)
            .returning(_T.account_id)
        ).first()
        # Steps up to last_step are refused by last_step alone: their rows can go.
        prune = _B.step <= step if moved else _B.step == step
        self._conn.execute(totp_burnt_steps.delete().where(_B.account_id == account_id, prune))
        return moved is not None

    def _forget_burnt(self, account_id: str) -> None:
        self._conn.execute(totp_burnt_steps.delete().where(_B.account_id == account_id))
