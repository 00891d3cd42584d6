"""the SMS code a resend replaced, kept until its own expiry

Texts arrive late: a customer who asked for a new code and then types the first one to
arrive must not be told it is wrong, nor spend a try on it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_codes") as batch:
        batch.add_column(sa.Column("previous_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("previous_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("previous_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sms_codes") as batch:
        batch.drop_column("previous_expires_at")
        batch.drop_column("previous_sent_at")
        batch.drop_column("previous_digest")
