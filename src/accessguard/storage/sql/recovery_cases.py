"""Recovery cases. Each change of status is one UPDATE … WHERE status … RETURNING, so the
database, not a read in Python, decides which of racing decisions, cancels and completions
takes effect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from accessguard.domain.model import AuditEvent
from accessguard.domain.recovery_cases import ACTIVE, CaseStatus, RecoveryCase
from accessguard.storage.sql.accounts import upsert
from accessguard.storage.sql.tables import (
    audit_events,
    mfa_challenges,
    recovery_codes,
    recovery_requests,
    sms_codes,
    sms_credentials,
    totp_burnt_steps,
    totp_credentials,
)

_R = recovery_requests.c
_FIELDS = [c for c in recovery_requests.c if c.name != "cancel_token_digest"]
# Everything that lets an account pass a second factor, or is half-way through one.
_FACTOR_TABLES = (
    totp_credentials,
    totp_burnt_steps,
    sms_credentials,
    sms_codes,
    recovery_codes,
    mfa_challenges,
)


def _case(row: sa.RowMapping) -> RecoveryCase:
    return RecoveryCase(**{**row, "status": CaseStatus(row["status"])})


class SqlRecoveryCases:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def _one(self, statement: sa.Select[Any] | sa.Update) -> RecoveryCase | None:
        row = self._conn.execute(statement).mappings().first()
        return _case(row) if row else None

    def _many(self, statement: sa.Select[Any]) -> list[RecoveryCase]:
        return [_case(row) for row in self._conn.execute(statement).mappings()]

    def _select(self) -> sa.Select[Any]:
        return sa.select(*_FIELDS)

    def _update(self, *where: sa.ColumnElement[bool], **values: Any) -> RecoveryCase | None:
        return self._one(
            recovery_requests.update().where(*where).values(values).returning(*_FIELDS)
        )

    def active_for(self, account_id: str) -> RecoveryCase | None:
        return self._one(
            self._select().where(_R.account_id == account_id, _R.status.in_(ACTIVE)).limit(1)
        )

    def add(self, case: RecoveryCase, cancel_token_digest: str) -> bool:
        values = {c.name: getattr(case, c.name) for c in _FIELDS}
        # A second active case meets the partial unique index on account_id, a reference drawn
        # twice (40 bits: likely once in a million cases) the one on reference: ON CONFLICT
        # makes either a no-op, where the error would abort the transaction on PostgreSQL and
        # take the use case's audit row and notice with it. The use case tells them apart.
        statement = (
            upsert(self._conn, recovery_requests)
            .values(**values, cancel_token_digest=cancel_token_digest)
            .on_conflict_do_nothing()
            .returning(_R.id)
        )
        return self._conn.execute(statement).first() is not None

    def get(self, case_id: str) -> RecoveryCase | None:
        return self._one(self._select().where(_R.id == case_id))

    def listing(self, status: CaseStatus | None, limit: int) -> list[RecoveryCase]:
        query = self._select().order_by(_R.created_at.desc(), _R.id).limit(limit)
        if status is not None:
            query = query.where(_R.status == status)
        return self._many(query)

    def for_account(self, account_id: str, limit: int) -> list[RecoveryCase]:
        return self._many(
            self._select()
            .where(_R.account_id == account_id)
            .order_by(_R.created_at.desc(), _R.id)
            .limit(limit)
        )

    def _cancellable(self, token_digest: str, now: datetime) -> list[sa.ColumnElement[bool]]:
        return [
            _R.cancel_token_digest == token_digest,
            sa.or_(
                _R.status == CaseStatus.OPEN,
                sa.and_(_R.status == CaseStatus.APPROVED, _R.effective_at > now),
            ),
        ]

    def by_cancel_token(self, token_digest: str) -> RecoveryCase | None:
        return self._one(self._select().where(_R.cancel_token_digest == token_digest))

    def cancel(self, token_digest: str, now: datetime) -> RecoveryCase | None:
        return self._update(
            *self._cancellable(token_digest, now), status=CaseStatus.CANCELLED, closed_at=now
        )

    def cancel_active(self, account_id: str, now: datetime) -> RecoveryCase | None:
        return self._update(
            _R.account_id == account_id,
            sa.or_(
                _R.status == CaseStatus.OPEN,
                sa.and_(_R.status == CaseStatus.APPROVED, _R.effective_at > now),
            ),
            status=CaseStatus.CANCELLED,
            closed_at=now,
        )

    def decide(
        self,
        case_id: str,
        status: CaseStatus,
        *,
        by: str,
        at: datetime,
        note: str,
        effective_at: datetime | None = None,
        cancel_token_digest: str | None = None,
    ) -> RecoveryCase | None:
        values: dict[str, Any] = {"status": status, "decided_by": by, "decided_at": at}
        values["note"] = note
        if effective_at is not None:
            values["effective_at"] = effective_at
        if cancel_token_digest is not None:
            values["cancel_token_digest"] = cancel_token_digest
        if status is not CaseStatus.APPROVED:
            values["closed_at"] = at
        return self._update(_R.id == case_id, _R.status == CaseStatus.OPEN, **values)

    def due(self, now: datetime, limit: int) -> list[str]:
        query = (
            sa.select(_R.id)
            .where(_R.status == CaseStatus.APPROVED, _R.effective_at <= now)
            .order_by(_R.effective_at)
            .limit(limit)
        )
        return list(self._conn.scalars(query))

    def complete(self, case_id: str, now: datetime) -> RecoveryCase | None:
        return self._update(
            _R.id == case_id,
            _R.status == CaseStatus.APPROVED,
            _R.effective_at <= now,
            status=CaseStatus.COMPLETED,
            closed_at=now,
        )

    def remove_second_factors(self, account_id: str) -> None:
        for table in _FACTOR_TABLES:
            self._conn.execute(table.delete().where(table.c.account_id == account_id))

    def security_events(
        self, account_id: str, kinds: tuple[str, ...], limit: int
    ) -> list[AuditEvent]:
        a = audit_events.c
        rows = self._conn.execute(
            sa.select(a.at, a.kind, a.outcome, a.account_id, a.ip, a.user_agent, a.detail)
            .where(
                a.account_id == account_id,
                a.outcome == "success",
                sa.or_(*(a.kind.startswith(kind, autoescape=True) for kind in kinds)),
            )
            .order_by(a.id.desc())
            .limit(limit)
        ).mappings()
        return [AuditEvent(**row) for row in rows]
