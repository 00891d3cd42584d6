"""withdrawn: stored email addresses were to be rewritten in NFKC

This revision rewrote addresses into their NFKC form for a few hours of development; folding
can turn one valid address into another, or into several, so it was withdrawn before any
release and does nothing now. Registration refuses such spellings instead
(domain/emails.is_plain). It stays so that a database already stamped 0004 still upgrades.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing: see the module's docstring."""


def downgrade() -> None:
    """Nothing: see the module's docstring."""
