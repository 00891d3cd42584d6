"""the session that started a pending authenticator set-up

Only that session is shown the pending key again (a reloaded set-up page); any other session
of the account, a stolen one say, must never read a key its owner is about to confirm.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("totp_credentials") as batch:
        batch.add_column(sa.Column("started_by_session", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("totp_credentials") as batch:
        batch.drop_column("started_by_session")
