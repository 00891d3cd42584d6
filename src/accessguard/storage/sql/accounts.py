"""Accounts, sessions and devices: the records keyed by a person or a token digest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from accessguard.domain.lockout import device_subject
from accessguard.domain.model import (
    Account,
    AttemptFromDevice,
    Device,
    LockState,
    SecondFactors,
    Session,
)
from accessguard.domain.recovery_cases import ACTIVE, ActiveRecovery, CaseStatus
from accessguard.storage.sql.direct import DirectStatement
from accessguard.storage.sql.held_writes import DirectRunner
from accessguard.storage.sql.tables import (
    accounts,
    devices,
    lockouts,
    recovery_codes,
    recovery_requests,
    sessions,
    sms_credentials,
    totp_credentials,
)


def upsert(conn: sa.Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT … ON CONFLICT for whichever backend `conn` talks to."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# Sign-in's hot statements are built once; composing them costs as much CPU as running them.
_BY_ID = sa.select(accounts).where(accounts.c.id == sa.bindparam("value"))
_BY_EMAIL_KEY = sa.select(accounts).where(accounts.c.email_key == sa.bindparam("value"))


def app_and_phone(account: sa.ColumnElement[str] | str) -> tuple[sa.Exists, sa.Exists]:
    """Whether the account has an active authenticator app, and a confirmed phone."""
    return (
        sa.exists().where(
            totp_credentials.c.account_id == account, totp_credentials.c.confirmed_at.is_not(None)
        ),
        sa.exists().where(
            sms_credentials.c.account_id == account, sms_credentials.c.confirmed_at.is_not(None)
        ),
    )


def factor_columns(account: sa.ColumnElement[str]) -> list[sa.ColumnElement[Any]]:
    """The account's second factors as three labelled columns, read by `factors_from`."""
    return [
        *[
            factor.label(name)
            for factor, name in zip(app_and_phone(account), ("f__totp", "f__sms"), strict=True)
        ],
        sa.select(sa.func.count())
        .where(recovery_codes.c.account_id == account, recovery_codes.c.used_at.is_(None))
        .scalar_subquery()
        .label("f__recovery_codes_left"),
    ]


def factors_from(row: Mapping[Any, Any]) -> SecondFactors:
    """The second factors in a row with `factor_columns`."""
    return SecondFactors(
        bool(row["f__totp"]), bool(row["f__sms"]), int(row["f__recovery_codes_left"])
    )


def active_recovery_from(row: Mapping[Any, Any]) -> ActiveRecovery | None:
    """The active case in a WITH_ACCOUNT_AND_FACTORS row; None when the outer join found none."""
    if row["r__reference"] is None:
        return None
    values = {c.name: row[f"r__{c.name}"] for c in _CASE_COLUMNS}
    return ActiveRecovery(**{**values, "status": CaseStatus(values["status"])})


_ACCOUNT: sa.BindParameter[str] = sa.bindparam("account_id")
SECOND_FACTORS = sa.select(*factor_columns(_ACCOUNT))
# A password attempt's one read before the hash: the account with its second factors (so none
# is needed after the hash) and the lock of a subject. The lock exists for unknown emails too
# (their failures are counted), so both hang off a one-row anchor: a missing account still
# brings the lock.
LOCK_COLUMNS: list[sa.Column[Any]] = [
    lockouts.c.generation,
    lockouts.c.level,
    lockouts.c.locked_until,
]


def lock_state(row: Mapping[str, Any] | None, prefix: str = "") -> LockState:
    """A lockouts row (its columns named `prefix` + name) as the domain's record; no row, or
    an outer join that found none, is the state of a subject never locked."""
    if row is None or row[prefix + "generation"] is None:
        return LockState()
    return LockState(**{c.name: row[prefix + c.name] for c in LOCK_COLUMNS})


_ANCHOR = sa.select(sa.literal_column("1").label("anchor")).subquery("anchor")
_PASSWORD_ATTEMPT = sa.select(
    accounts,
    *factor_columns(accounts.c.id),
    *[c.label(f"l__{c.name}") for c in LOCK_COLUMNS],
).select_from(
    _ANCHOR.outerjoin(accounts, accounts.c.email_key == sa.bindparam("email_key")).outerjoin(
        lockouts, lockouts.c.subject == sa.bindparam("subject")
    )
)
FOR_PASSWORD_ATTEMPT = DirectStatement(_PASSWORD_ATTEMPT)
_ACCOUNT_FIELDS = tuple(accounts.c.keys())


def password_attempt_from(
    row: Mapping[str, Any],
) -> tuple[Account | None, SecondFactors, LockState]:
    """A row of FOR_PASSWORD_ATTEMPT as the account (None: no such email), its second factors
    and the subject's lock."""
    lock = lock_state(row, prefix="l__")
    if row["id"] is None:
        return None, SecondFactors(), lock
    return Account(**{k: row[k] for k in _ACCOUNT_FIELDS}), factors_from(row), lock


class SqlAccounts:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def add(self, account: Account) -> bool:
        values = {k: getattr(account, k) for k in accounts.c.keys()}  # noqa: SIM118 - a column collection
        stmt = (
            upsert(self._conn, accounts)
            .values(values)
            .on_conflict_do_nothing(index_elements=[accounts.c.email_key])
        )
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
        return self._conn.execute(stmt.returning(accounts.c.id)).first() is not None

    def _one(self, query: sa.Select[Any], value: str) -> Account | None:
        row = self._conn.execute(query, {"value": value}).mappings().first()
        return Account(**row) if row else None

    def get(self, account_id: str) -> Account | None:
        return self._one(_BY_ID, account_id)

    def by_email_key(self, email_key: str) -> Account | None:
        return self._one(_BY_EMAIL_KEY, email_key)

    def for_password_attempt(
        self, email_key: str, lock_subject: str
    ) -> tuple[Account | None, SecondFactors, LockState]:
        row = FOR_PASSWORD_ATTEMPT.first(
            self._conn, {"email_key": email_key, "subject": lock_subject}
        )
        assert row is not None  # noqa: S101 - the anchor always gives one row
        return password_attempt_from(row)

    def for_password_attempt_from_device(
        self, email_key: str, lock_subject: str, token_digest: str
    ) -> AttemptFromDevice:
        values = {"email_key": email_key, "subject": lock_subject, "token_digest": token_digest}
        row = FOR_PASSWORD_ATTEMPT_FROM_DEVICE.first(self._conn, values)
        assert row is not None  # noqa: S101 - the anchor always gives one row
        return attempt_from_device_from(row)

    def _set(self, account_id: str, **values: object) -> None:
        self._conn.execute(accounts.update().where(accounts.c.id == account_id).values(values))

    def set_password(self, account_id: str, password_hash: str) -> None:
        self._set(account_id, password_hash=password_hash)

    def replace_password(self, account_id: str, checked_hash: str, password_hash: str) -> bool:
        result = self._conn.execute(
            accounts.update()
            .where(accounts.c.id == account_id, accounts.c.password_hash == checked_hash)
            .values(password_hash=password_hash)
        )
        return result.rowcount == 1

    def mark_verified(self, account_id: str, at: datetime) -> None:
        self._conn.execute(
            accounts.update()
            .where(accounts.c.id == account_id, accounts.c.email_verified_at.is_(None))
            .values(email_verified_at=at)
        )

    def set_security_hold(self, account_id: str, until: datetime) -> None:
        self._set(account_id, security_hold_until=until)

    def lock(self, account_id: str) -> None:
        # FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers.
        self._conn.execute(
            sa.select(accounts.c.id).where(accounts.c.id == account_id).with_for_update()
        )

    def second_factors(self, account_id: str) -> SecondFactors:
        row = self._conn.execute(SECOND_FACTORS, {"account_id": account_id}).mappings().one()
        return factors_from(row)


_SESSION_FIELDS = [c for c in sessions.c if c.name != "token_digest"]
# Every sign-in adds a session: built once, run on the driver (storage/sql/direct.py).
INSERT_SESSION = DirectStatement(sessions.insert(), [c.name for c in sessions.c])


def session_values(session: Session, token_digest: str) -> dict[str, Any]:
    """INSERT_SESSION's values for a new session."""
    values = {c.name: getattr(session, c.name) for c in _SESSION_FIELDS}
    return {**values, "token_digest": token_digest}


# Built once: this lookup runs on every authenticated request, and composing the statement
# cost as much CPU as executing it. The asyncpg reads (session_reads.py) run the same
# selects for several digests at once (MANY_… below).
_SESSION_AND_ACCOUNT = sa.select(
    *_SESSION_FIELDS, *[c.label(f"a__{c.name}") for c in accounts.c]
).join(accounts, accounts.c.id == sessions.c.account_id)
_PRESENTED = sessions.c.token_digest == sa.bindparam("digest")
WITH_ACCOUNT = _SESSION_AND_ACCOUNT.where(_PRESENTED)
_CASE = recovery_requests.c
_CASE_COLUMNS = (
    _CASE.reference,
    _CASE.status,
    _CASE.created_at,
    _CASE.effective_at,
    _CASE.ip,
    _CASE.country,
    _CASE.user_agent,
)
# Literals, not bound values: the direct statements bind only the values their callers pass.
_ACTIVE_CASE = sa.or_(*(_CASE.status == sa.literal_column(f"'{status}'") for status in ACTIVE))
# GET /me: the account's active lost-device case rides on the same read as an outer join (an
# account has at most one, `RecoveryRequests` sees to that), so the owner sees it for free.
_WITH_FACTORS = _SESSION_AND_ACCOUNT.add_columns(
    *factor_columns(sessions.c.account_id), *[c.label(f"r__{c.name}") for c in _CASE_COLUMNS]
).outerjoin(recovery_requests, sa.and_(_CASE.account_id == sessions.c.account_id, _ACTIVE_CASE))
WITH_ACCOUNT_AND_FACTORS = _WITH_FACTORS.where(_PRESENTED)

# The same two lookups for several sessions at once (PostgreSQL): the digests as one array,
# each row naming the digest it was found by. The event loop sends together the lookups that
# its requests ask for in one turn (storage/sql/session_reads.py, storage/together.py).
_ANY_PRESENTED = sessions.c.token_digest == sa.any_(
    sa.bindparam("digests", type_=postgresql.ARRAY(sessions.c.token_digest.type))
)
_FOUND_BY = sessions.c.token_digest.label("presented")
MANY_WITH_ACCOUNT = _SESSION_AND_ACCOUNT.add_columns(_FOUND_BY).where(_ANY_PRESENTED)
MANY_WITH_ACCOUNT_AND_FACTORS = _WITH_FACTORS.add_columns(_FOUND_BY).where(_ANY_PRESENTED)


TOUCH_SESSION = (
    sessions.update()
    .where(sessions.c.id == sa.bindparam("session_id"))
    .values(last_seen_at=sa.bindparam("at", type_=sessions.c.last_seen_at.type))
)


_SESSION_NAMES = [c.name for c in _SESSION_FIELDS]
_ACCOUNT_LABELS = [(c.name, f"a__{c.name}") for c in accounts.c]


def session_and_account(row: Mapping[Any, Any]) -> tuple[Session, Account]:
    """A WITH_ACCOUNT row as the domain's records."""
    session = Session(**{name: row[name] for name in _SESSION_NAMES})
    account = Account(**{name: row[label] for name, label in _ACCOUNT_LABELS})
    return session, account


class SqlSessions:
    def __init__(self, conn: sa.Connection, runner: DirectRunner) -> None:
        self._conn = conn
        self._runner = runner

    def add(self, session: Session, token_digest: str) -> None:
        self._runner.insert(INSERT_SESSION, session_values(session, token_digest))

    def by_token_digest(self, token_digest: str) -> Session | None:
        row = (
            self._conn.execute(
                sa.select(*_SESSION_FIELDS).where(sessions.c.token_digest == token_digest)
            )
            .mappings()
            .first()
        )
        return Session(**row) if row else None

    def with_account(self, token_digest: str) -> tuple[Session, Account] | None:
        row = self._conn.execute(WITH_ACCOUNT, {"digest": token_digest}).mappings().first()
        return None if row is None else session_and_account(row)

    def touch(self, session_id: str, at: datetime) -> None:
        self._conn.execute(TOUCH_SESSION, {"session_id": session_id, "at": at})

    def list_active(self, account_id: str, now: datetime) -> list[Session]:
        rows = self._conn.execute(
            sa.select(*_SESSION_FIELDS)
            .where(
                sessions.c.account_id == account_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > now,
            )
            .order_by(sessions.c.created_at.desc())
        ).mappings()
        return [Session(**row) for row in rows]

    def revoke(self, session_id: str, at: datetime) -> bool:
        result = self._conn.execute(
            sessions.update()
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount == 1

    def revoke_all(self, account_id: str, at: datetime, *, except_id: str | None = None) -> int:
        where = [sessions.c.account_id == account_id, sessions.c.revoked_at.is_(None)]
        if except_id is not None:
            where.append(sessions.c.id != except_id)
        return self._conn.execute(sessions.update().where(*where).values(revoked_at=at)).rowcount


_DEVICE_FIELDS = [c for c in devices.c if c.name != "token_digest"]
INSERT_DEVICE = DirectStatement(devices.insert(), [c.name for c in devices.c])
_TOUCH = (
    devices.update()
    .where(devices.c.id == sa.bindparam("device_id"))
    .values(last_seen_at=sa.bindparam("at"))
)
TOUCH_DEVICE = DirectStatement(_TOUCH)
# A device's own lock is `device_subject`: a constant prefix and the id. The prefix is written
# into the SQL below, as a constant of ours with nothing to escape.
_DEVICE_PREFIX = device_subject("")
if not _DEVICE_PREFIX.replace(":", "").isalnum():
    raise ValueError("a device subject's prefix is written into SQL: letters and colons only")


_DEVICE_LOCKS = lockouts.alias("device_locks")
# FOR_PASSWORD_ATTEMPT from a client that brings a device token: with the account's device
# under that token, if there is one, and the device's own lock, in the same round trip.
FOR_PASSWORD_ATTEMPT_FROM_DEVICE = DirectStatement(
    _PASSWORD_ATTEMPT.add_columns(
        *[c.label(f"d__{c.name}") for c in _DEVICE_FIELDS],
        *[_DEVICE_LOCKS.c[c.name].label(f"dl__{c.name}") for c in LOCK_COLUMNS],
    )
    .outerjoin(
        devices,
        sa.and_(
            devices.c.token_digest == sa.bindparam("token_digest"),
            devices.c.account_id == accounts.c.id,
        ),
    )
    .outerjoin(
        _DEVICE_LOCKS,
        _DEVICE_LOCKS.c.subject
        == sa.literal_column(f"'{_DEVICE_PREFIX}'", sa.String) + devices.c.id,
    )
)


def attempt_from_device_from(row: Mapping[str, Any]) -> AttemptFromDevice:
    """A row of FOR_PASSWORD_ATTEMPT_FROM_DEVICE as `password_attempt_from` reads it, and the
    account's device under the token with its lock (None: no such device, or no account)."""
    if row["d__id"] is None:
        return (*password_attempt_from(row), None)
    device = Device(**{c.name: row[f"d__{c.name}"] for c in _DEVICE_FIELDS})
    return (*password_attempt_from(row), (device, lock_state(row, "dl__")))


def device_values(device: Device, token_digest: str) -> dict[str, Any]:
    """INSERT_DEVICE's values for a new device."""
    values = {c.name: getattr(device, c.name) for c in _DEVICE_FIELDS}
    return {**values, "token_digest": token_digest}


class SqlDevices:
    def __init__(self, conn: sa.Connection, runner: DirectRunner) -> None:
        self._conn = conn
        self._runner = runner

    def add(self, device: Device, token_digest: str) -> None:
        self._runner.insert(INSERT_DEVICE, device_values(device, token_digest))

    def by_token_digest(self, token_digest: str) -> Device | None:
        row = (
            self._conn.execute(
                sa.select(*_DEVICE_FIELDS).where(devices.c.token_digest == token_digest)
            )
            .mappings()
            .first()
        )
        return Device(**row) if row else None

    def touch(self, device_id: str, at: datetime) -> None:
        self._conn.execute(_TOUCH, {"device_id": device_id, "at": at})

    def ids_for(self, account_id: str) -> list[str]:
        return list(
            self._conn.scalars(sa.select(devices.c.id).where(devices.c.account_id == account_id))
        )
