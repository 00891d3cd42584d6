"""email keys fold case one character for one: straße@ and strasse@ are two accounts

Keys were made with full case folding, which turns `ß` into `ss`, so the owner of
strasse@example.com could not register and signed in to straße@example.com's account with its
password. Keys are now made with simple case folding (domain/emails.fold_case). This revision
recomputes the keys that change (only addresses holding a character that full folding turned
into two) and moves their lock, and the open second steps counting on it, to the new lockout
subject. Failure counters not yet at a lock start again for those few addresses, and the old
subject, which now belongs to the other mailbox (strasse@), starts a new lock generation:
counters are named by it, so the failures counted before (in Redis, or in the counters
table) do not count against that mailbox's owner.

Both foldings are written out here as they were when this revision was made: the domain's may
change later, and a migration must keep doing what it did.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _full_fold(email: str) -> str:
    return unicodedata.normalize("NFKC", email).casefold()


def _simple_fold(email: str) -> str:
    text = unicodedata.normalize("NFKC", email)
    folded = "".join(f if len(f := char.casefold()) == 1 else char.lower() for char in text)
    return unicodedata.normalize("NFC", folded)


def _subject(key: str) -> str:
    return "email:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _rekey(fold: Callable[[str], str]) -> None:
    conn = op.get_bind()
    accounts = sa.table(
        "accounts", sa.column("id", sa.String), sa.column("email", sa.String),
        sa.column("email_key", sa.String),
    )  # fmt: skip
    lockouts = sa.table(
        "lockouts", sa.column("subject", sa.String), sa.column("generation", sa.Integer),
        sa.column("level", sa.Integer), sa.column("locked_until", sa.DateTime),
    )  # fmt: skip
    challenges = sa.table("mfa_challenges", sa.column("subject", sa.String))
    changes = []
    # Stored addresses are NFC with the domain lower-cased: the key is their fold. ASCII
    # addresses fold alike either way. Streamed, so a million accounts are not held at once;
    # the changes (a few) are written once the read is over.
    query = sa.select(accounts.c.id, accounts.c.email, accounts.c.email_key)
    for account_id, email, old_key in conn.execute(query.execution_options(stream_results=True)):
        new_key = email.lower() if email.isascii() else fold(email)
        if new_key != old_key:
            changes.append((account_id, old_key, new_key))
    for account_id, old_key, new_key in changes:
        conn.execute(accounts.update().where(accounts.c.id == account_id).values(email_key=new_key))
        old, new = _subject(old_key), _subject(new_key)
        generations = sa.select(lockouts.c.generation).where(lockouts.c.subject.in_((old, new)))
        newest = max(conn.execute(generations).scalars(), default=0)
        # Going up nothing is there (no key held a ß); going down, the row put there below.
        conn.execute(lockouts.delete().where(lockouts.c.subject == new))
        for table in (lockouts, challenges):
            conn.execute(table.update().where(table.c.subject == old).values(subject=new))
        conn.execute(
            lockouts.insert().values(subject=old, generation=newest + 1, level=0, locked_until=None)
        )


def upgrade() -> None:
    _rekey(_simple_fold)


def downgrade() -> None:
    # Two accounts that only full folding tells apart (straße@, strasse@) would then claim
    # one key: the downgrade stops on the unique index rather than merge them.
    _rekey(_full_fold)
