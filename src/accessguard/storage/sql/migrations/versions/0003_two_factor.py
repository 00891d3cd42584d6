"""two-step sign-in, SMS codes, recovery codes and lost-device recovery requests

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["accounts.id"],
        name=op.f(f"fk_{table}_account_id_accounts"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("second_factor", sa.String(length=20), nullable=True))
    op.create_table(
        "totp_burnt_steps",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("burnt_at", sa.DateTime(timezone=True), nullable=False),
        _account_fk("totp_burnt_steps"),
        sa.PrimaryKeyConstraint("account_id", "step", name=op.f("pk_totp_burnt_steps")),
    )
    op.create_table(
        "mfa_challenges",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("binding_digest", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _account_fk("mfa_challenges"),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_mfa_challenges")),
    )
    op.create_index(
        op.f("ix_mfa_challenges_account_id"), "mfa_challenges", ["account_id"], unique=False
    )
    op.create_table(
        "sms_credentials",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _account_fk("sms_credentials"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_sms_credentials")),
    )
    op.create_table(
        "sms_codes",
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _account_fk("sms_codes"),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_sms_codes")),
    )
    op.create_index(op.f("ix_sms_codes_account_id"), "sms_codes", ["account_id"], unique=False)
    op.create_table(
        "recovery_codes",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _account_fk("recovery_codes"),
        sa.PrimaryKeyConstraint("account_id", "code_digest", name=op.f("pk_recovery_codes")),
    )
    op.create_table(
        "recovery_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("known_device", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_token_digest", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        _account_fk("recovery_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_recovery_requests_reference")),
        sa.UniqueConstraint(
            "cancel_token_digest", name=op.f("uq_recovery_requests_cancel_token_digest")
        ),
    )
    op.create_index(
        op.f("ix_recovery_requests_account_id"), "recovery_requests", ["account_id"], unique=False
    )
    op.create_index(
        "ix_recovery_requests_status_effective_at",
        "recovery_requests",
        ["status", "effective_at"],
        unique=False,
    )


def downgrade() -> None:
    for table in (
        "recovery_requests",
        "recovery_codes",
        "sms_codes",
        "sms_credentials",
        "mfa_challenges",
        "totp_burnt_steps",
    ):
        op.drop_table(table)
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("second_factor")
