"""at most one active lost-device case per account, held by the database too

Opening a case holds the account row while it looks for an active one (open or approved), so
two requests cannot both open one; it has done so since cases were introduced (0003), and
SQLite runs one writer at a time besides. A partial unique index on account_id over the
active statuses now refuses a second one from any writer that does not take that lock.

No duplicates are expected, then, but a database written outside the service (a hand-made
fix, a merged restore) may hold some, and the index cannot be built over them. Stopping here
would keep every instance from starting (each migrates as it starts) over cases that the
service would never have made. So, per account, one case stays active and the others are
cancelled, closed_at set to now, each with an audit row (recovery_cancelled, outcome
`duplicate`, naming the case kept) and a logged warning, so support can tell why. The one
kept is the approved case if there is one, support's decision and the waiting period its
owner was mailed about standing; otherwise the oldest, whose reference went out first.
Nothing is mailed: the owner keeps the one case that goes on, and a link of a cancelled one
says it was cancelled.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEX = "uq_recovery_requests_active_account_id"
ACTIVE = ("open", "approved")

# Beside Alembic's own lines: `accessguard migrate` shows only errors of accessguard's loggers.
log = logging.getLogger("alembic.runtime.migration")


def _cancel_duplicates() -> None:
    conn = op.get_bind()
    cases = sa.table(
        "recovery_requests", sa.column("id", sa.String), sa.column("reference", sa.String),
        sa.column("account_id", sa.String), sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime), sa.column("closed_at", sa.DateTime),
    )  # fmt: skip
    audit = sa.table(
        "audit_events", sa.column("at", sa.DateTime), sa.column("kind", sa.String),
        sa.column("outcome", sa.String), sa.column("account_id", sa.String),
        sa.column("ip", sa.String), sa.column("user_agent", sa.String),
        sa.column("detail", sa.JSON),
    )  # fmt: skip
    active = cases.c.status.in_(ACTIVE)
    crowded = (
        sa.select(cases.c.account_id)
        .where(active)
        .group_by(cases.c.account_id)
        .having(sa.func.count() > 1)
    )
    rows = conn.execute(
        sa.select(cases.c.id, cases.c.reference, cases.c.account_id)
        .where(active, cases.c.account_id.in_(crowded))
        .order_by(
            cases.c.account_id,
            sa.case((cases.c.status == "approved", 0), else_=1),
            cases.c.created_at,
            cases.c.id,
        )
    ).all()
    now = conn.execute(sa.select(sa.func.now())).scalar_one()
    kept: dict[str, str] = {}
    for case_id, reference, account_id in rows:
        if account_id not in kept:
            kept[account_id] = reference
            continue
        conn.execute(
            cases.update().where(cases.c.id == case_id).values(status="cancelled", closed_at=now)
        )
        detail = {"case_id": case_id, "reference": reference, "kept": kept[account_id]}
        conn.execute(
            audit.insert().values(
                at=now,
                kind="recovery_cancelled",
                outcome="duplicate",
                account_id=account_id,
                ip="",
                user_agent="migration 0008",
                detail=detail,
            )
        )
        log.warning("recovery case %s cancelled: its account has another active case", case_id)


def upgrade() -> None:
    _cancel_duplicates()
    where = sa.text("status IN ('open', 'approved')")
    op.create_index(
        INDEX,
        "recovery_requests",
        ["account_id"],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="recovery_requests")
