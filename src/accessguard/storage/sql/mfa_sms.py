"""Text-message numbers and codes. Every change of a code that races (placing it under the
cooldown, counting a try, accepting it) is one conditional statement, never read-then-write."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from accessguard.domain.mfa_sms import SmsCredential
from accessguard.domain.sms_codes import SmsCode
from accessguard.storage.sql.accounts import upsert
from accessguard.storage.sql.tables import sms_codes, sms_credentials

_N = sms_credentials.c
_C = sms_codes.c
_CODE_COLUMNS = (
    _C.owner,
    _C.account_id,
    _C.phone,
    _C.code_digest,
    _C.created_at,
    _C.expires_at,
    _C.sent_at,
    _C.tries,
    _C.used_at,
    _C.previous_digest,
    _C.previous_sent_at,
    _C.previous_expires_at,
)


def _code(row: sa.RowMapping | None) -> SmsCode | None:
    return SmsCode(**row) if row is not None else None


class SqlSms:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def credential(self, account_id: str) -> SmsCredential | None:
        row = self._conn.execute(
            sa.select(_N.account_id, _N.phone, _N.created_at, _N.confirmed_at).where(
                _N.account_id == account_id
            )
        ).first()
        return SmsCredential(*row) if row else None

    def add_confirmed(self, account_id: str, phone: str, now: datetime) -> bool:
        stmt = (
            upsert(self._conn, sms_credentials)
            .values(account_id=account_id, phone=phone, created_at=now, confirmed_at=now)
            .on_conflict_do_nothing(index_elements=[_N.account_id])
            .returning(_N.account_id)
        )
        return self._conn.execute(stmt).first() is not None

    def replace_phone(self, account_id: str, phone: str, now: datetime) -> bool:
        # Codes on their way to the old number (a sign-in, a proof) die with it.
        self._conn.execute(sms_codes.delete().where(_C.account_id == account_id, _C.phone != phone))
        stmt = (
            sms_credentials.update()
            .where(_N.account_id == account_id, _N.confirmed_at.is_not(None))
            .values(phone=phone, confirmed_at=now)
            .returning(_N.account_id)
        )
        return self._conn.execute(stmt).first() is not None

    def delete(self, account_id: str) -> bool:
        # Pending codes go too: none of them may complete anything once the number is gone.
        self._conn.execute(sms_codes.delete().where(_C.account_id == account_id))
        stmt = sms_credentials.delete().where(_N.account_id == account_id)
        return bool(self._conn.execute(stmt).rowcount)

    def code(self, owner: str) -> SmsCode | None:
        query = sa.select(*_CODE_COLUMNS).where(_C.owner == owner)
        return _code(self._conn.execute(query).mappings().first())

    def put_code(
        self, code: SmsCode, *, sent_before: datetime, begun_before: datetime, max_tries: int
    ) -> bool:
        insert = upsert(self._conn, sms_codes)
        values = {
            "owner": code.owner,
            "account_id": code.account_id,
            "phone": code.phone,
            "code_digest": code.code_digest,
            "created_at": code.created_at,
            "expires_at": code.expires_at,
            "sent_at": None,
            "tries": 0,
            "used_at": None,
        }
        # The cooldown is the WHERE of the conflict update, so of parallel resends exactly one
        # replaces the row; a row still with the gateway blocks until it is IN_FLIGHT old.
        replaceable = sa.or_(
            _C.used_at.is_not(None),
            sa.and_(_C.sent_at.is_not(None), _C.sent_at <= sent_before),
            sa.and_(_C.sent_at.is_(None), _C.created_at <= begun_before),
        )
        # The SET expressions read the row as it was, so the code being replaced is kept
        # when it could still be accepted, on the same number.
        keep = sa.and_(
            _C.phone == insert.excluded.phone,
            _C.sent_at.is_not(None),
            _C.used_at.is_(None),
            _C.expires_at > code.created_at,
            _C.tries < max_tries,
        )
        kept = {
            "previous_digest": _C.code_digest,
            "previous_sent_at": _C.sent_at,
            "previous_expires_at": _C.expires_at,
        }
        stmt = (
            insert.values(values)
            .on_conflict_do_update(
                index_elements=[_C.owner],
                set_={name: insert.excluded[name] for name in values if name != "owner"}
                | {name: sa.case((keep, column), else_=None) for name, column in kept.items()},
                where=replaceable,
            )
            .returning(_C.owner)
        )
        return self._conn.execute(stmt).first() is not None

    def mark_sent(self, owner: str, code_digest: str, at: datetime) -> None:
        self._conn.execute(
            sms_codes.update()
            .where(_C.owner == owner, _C.code_digest == code_digest)
            .values(sent_at=at)
        )

    def drop_code(self, owner: str, code_digest: str) -> None:
        mine = sa.and_(_C.owner == owner, _C.code_digest == code_digest)
        restored = self._conn.execute(
            sms_codes.update()
            .where(mine, _C.previous_digest.is_not(None))
            .values(
                code_digest=_C.previous_digest,
                sent_at=_C.previous_sent_at,
                expires_at=_C.previous_expires_at,
                previous_digest=None,
                previous_sent_at=None,
                previous_expires_at=None,
            )
        )
        if not restored.rowcount:
            self._conn.execute(sms_codes.delete().where(mine))

    def take_try(
        self, owner: str, account_id: str, max_tries: int, now: datetime
    ) -> SmsCode | None:
        stmt = (
            sms_codes.update()
            .where(
                _C.owner == owner,
                _C.account_id == account_id,
                _C.tries < max_tries,
                _C.used_at.is_(None),
                sa.or_(
                    _C.sent_at.is_not(None),
                    sa.and_(_C.previous_digest.is_not(None), _C.previous_expires_at > now),
                ),
                _C.expires_at > now,
            )
            .values(tries=_C.tries + 1)
            .returning(*_CODE_COLUMNS)
        )
        return _code(self._conn.execute(stmt).mappings().first())

    def claim(self, owner: str, code_digest: str, now: datetime) -> bool:
        stmt = (
            sms_codes.update()
            .where(_C.owner == owner, _C.code_digest == code_digest, _C.used_at.is_(None))
            .values(used_at=now)
            .returning(_C.owner)
        )
        return self._conn.execute(stmt).first() is not None
