"""stored email addresses in NFKC, the spelling their key denotes (domain/emails.py)

Before, an address was stored as typed (NFC): an account registered as a full-width or other
compatibility spelling held the plain address's key while its mail went to a mailbox nobody
reads. Only rows whose spelling changes are touched; the key, and so uniqueness, is unchanged.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_accounts = sa.table("accounts", sa.column("id", sa.String), sa.column("email", sa.String))


def _stored(address: str) -> str:
    # domain/emails.normalise_email as of this revision, frozen here like the schema is.
    local, _, domain = unicodedata.normalize("NFKC", address.strip()).rpartition("@")
    return f"{local}@{domain.lower()}"


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_accounts.c.id, _accounts.c.email)).all()
    for account_id, email in rows:
        if not email.isascii() and _stored(email) != email:
            conn.execute(
                _accounts.update().where(_accounts.c.id == account_id).values(email=_stored(email))
            )


def downgrade() -> None:
    pass  # the spelling as typed is not kept; NFKC addresses work with the older code too
