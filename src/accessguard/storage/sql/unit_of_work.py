"""The transaction boundary: one connection, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa

from accessguard.domain.ports import (
    AccountRepository,
    AuditLog,
    ChallengeRepository,
    DeviceRepository,
    LockoutRepository,
    OneTimeTokenRepository,
    Outbox,
    RecoveryCaseRepository,
    RecoveryCodeRepository,
    SecretBox,
    SessionRepository,
    SmsRepository,
    TotpRepository,
)
from accessguard.storage.sql.accounts import SqlAccounts, SqlDevices, SqlSessions
from accessguard.storage.sql.challenges import SqlChallenges
from accessguard.storage.sql.engine import mapped_errors, unavailable
from accessguard.storage.sql.held_writes import DirectRunner, HoldInserts, RunNow
from accessguard.storage.sql.mfa import SqlTotp
from accessguard.storage.sql.mfa_sms import SqlSms
from accessguard.storage.sql.outbox import SqlOutbox
from accessguard.storage.sql.recovery_cases import SqlRecoveryCases
from accessguard.storage.sql.recovery_codes import SqlRecoveryCodes
from accessguard.storage.sql.security import SqlAudit, SqlLockouts, SqlTokens


class SqlUnitOfWork:
    accounts: AccountRepository
    sessions: SessionRepository
    devices: DeviceRepository
    tokens: OneTimeTokenRepository
    lockouts: LockoutRepository
    audit: AuditLog
    outbox: Outbox
    totp: TotpRepository
    sms: SmsRepository
    recovery_codes: RecoveryCodeRepository
    recovery_cases: RecoveryCaseRepository
    challenges: ChallengeRepository

    def __init__(
        self,
        engine: sa.Engine,
        *,
        read_only: bool = False,
        deferred_writes: bool = False,
        outbox_box: SecretBox | None = None,
    ) -> None:
        self._engine = engine
        self._outbox_box = outbox_box
        self._read_only = read_only
        # Held INSERTs save round trips only where there are round trips: on PostgreSQL.
        self._hold = deferred_writes and not read_only and engine.dialect.driver == "psycopg"
        self._conn: sa.Connection | None = None
        self._held: HoldInserts | None = None

    def __enter__(self) -> SqlUnitOfWork:
        with mapped_errors():
            conn = self._engine.connect()
            if self._read_only:
                # Reads need no transaction: each statement sees the last commit. On
                # PostgreSQL that saves the BEGIN and COMMIT round trips, on SQLite two
                # statements, on every sign-in and authenticated request.
                conn.execution_options(isolation_level="AUTOCOMMIT")
            try:
                conn.begin()
            except BaseException:
                conn.close()
                raise
        self._conn = conn
        runner: DirectRunner = RunNow(conn)
        if self._hold:
            runner = self._held = HoldInserts(conn)
        self.accounts = SqlAccounts(conn)
        self.sessions = SqlSessions(conn, runner)
        self.devices = SqlDevices(conn, runner)
        self.tokens = SqlTokens(conn)
        self.lockouts = SqlLockouts(conn, runner)
        self.audit = SqlAudit(conn, runner)
        self.outbox = SqlOutbox(conn, self._outbox_box)
        self.totp = SqlTotp(conn)
        self.sms = SqlSms(conn)
        self.recovery_codes = SqlRecoveryCodes(conn)
        self.recovery_cases = SqlRecoveryCases(conn)
        self.challenges = SqlChallenges(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        held, self._held = self._held, None
        assert conn is not None  # noqa: S101 - __enter__ ran
        with mapped_errors():
            try:
                if exc_type is None:
                    if held is not None:
                        held.send()
                    conn.commit()
                else:
                    conn.rollback()
            finally:
                conn.close()
        mapped = unavailable(exc) if exc is not None else None
        if mapped is not None:
            raise mapped from exc
