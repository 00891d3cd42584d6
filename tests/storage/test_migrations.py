"""The Alembic migrations build exactly the schema the code uses, on both backends: a column
added to tables.py without a migration (or the reverse) fails here, not in production."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accessguard.bootstrap import Services
from accessguard.domain.emails import email_key
from accessguard.domain.lockout import email_subject
from accessguard.storage.sql.migrate import alembic_config, upgrade
from accessguard.storage.sql.tables import metadata
from tests.support import new_pg_database


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped after."""
    with new_pg_database("accessguard_fresh") as url:
        yield url


def test_migrated_database_matches_the_tables_the_code_uses(services: Services) -> None:
    with services.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_instances_starting_together_on_an_empty_database_all_migrate(
    fresh_pg_url: str,
) -> None:
    """Every instance migrates as it starts; several at once must not trip over each other
    creating the version table."""
    environment = {**os.environ, "ACCESSGUARD_DATABASE_URL": fresh_pg_url}
    command = [sys.executable, "-m", "accessguard", "migrate"]
    runs = [
        subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outputs
    engine = sa.create_engine(fresh_pg_url)
    try:
        with engine.connect() as conn:
            assert not compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'keys.db'}")
        yield engine
        engine.dispose()
        return
    with new_pg_database("accessguard_rekey") as url:
        engine = sa.create_engine(url)
        yield engine
        engine.dispose()


def test_upgrading_splits_addresses_that_full_case_folding_had_merged(
    empty_database: sa.Engine,
) -> None:
    """Keys made before 0007 folded `ß` into `ss`: the upgrade gives straße@ its own key, so
    strasse@ can have an account of its own, and keeps its lock with it."""
    upgrade(empty_database, "0006")
    columns = ("id", "email", "email_key", "password_hash", "created_at", "role")
    accounts = sa.table("accounts", *map(sa.column, columns))
    lockouts = sa.table("lockouts", *map(sa.column, ("subject", "generation", "level")))
    now = datetime.now(UTC)
    # Full folding also left ǰ decomposed (j + caron), where a capital J + caron now lands.
    jan = "\u01f0an@example.com"
    old_keys = {"1": "strasse@example.com", "2": "ada@example.com", "3": "j\u030can@example.com"}
    with empty_database.begin() as conn:
        addresses = (("1", "Straße@example.com"), ("2", "Ada@example.com"), ("3", jan))
        for account_id, email in addresses:
            conn.execute(
                accounts.insert().values(
                    id=account_id,
                    email=email,
                    email_key=old_keys[account_id],
                    password_hash="x",
                    created_at=now,
                    role="customer",
                )
            )
        locked = {"subject": email_subject("strasse@example.com"), "generation": 1, "level": 1}
        conn.execute(lockouts.insert().values(locked))

    upgrade(empty_database)

    with empty_database.connect() as conn:
        keys = dict(conn.execute(sa.select(accounts.c.id, accounts.c.email_key)).all())
        states = {
            subject: (generation, level)
            for subject, generation, level in conn.execute(sa.select(lockouts))
        }
    assert keys == {"1": email_key("Straße@example.com"), "2": "ada@example.com", "3": jan}
    assert email_key("J\u030cAN@example.com") == jan
    assert keys["1"] == "straße@example.com" != email_key("strasse@example.com")
    # The lock went with its account; the old subject, now strasse@'s, starts a generation
    # of its own, so the failures counted under the old one do not count against strasse@.
    assert states == {
        email_subject("straße@example.com"): (1, 1),
        email_subject("strasse@example.com"): (2, 0),
        email_subject(old_keys["3"]): (1, 0),  # no lock to move: a fresh generation all the same
    }


def test_upgrading_keeps_one_active_case_per_account_and_cancels_the_others(
    empty_database: sa.Engine,
) -> None:
    """0008 builds the one-active-case index over cases made before it. Should an account hold
    several (written outside the service), its approved one stays, else its oldest; the others
    are cancelled and audited, not left to stop the upgrade."""
    upgrade(empty_database, "0007")
    accounts = sa.table(
        "accounts", *map(sa.column, ("id", "email", "email_key", "password_hash")),
        sa.column("created_at", sa.DateTime),
    )  # fmt: skip
    columns = ("id", "reference", "account_id", "status", "details", "ip", "user_agent")
    cases = sa.table(
        "recovery_requests", *map(sa.column, columns),
        sa.column("created_at", sa.DateTime), sa.column("closed_at", sa.DateTime),
        sa.column("known_device", sa.Boolean),
    )  # fmt: skip
    start = datetime(2036, 3, 2, 9, 30, tzinfo=UTC)
    rows = [
        # account, case, status, minutes after start
        ("1", "older", "open", 0),
        ("1", "newer", "open", 5),
        ("1", "done", "completed", 9),
        ("2", "asked", "open", 0),
        ("2", "approved", "approved", 5),
        ("3", "alone", "open", 0),
    ]
    with empty_database.begin() as conn:
        for account_id in ("1", "2", "3"):
            conn.execute(
                accounts.insert().values(
                    id=account_id,
                    email=f"{account_id}@example.com",
                    email_key=f"{account_id}@example.com",
                    password_hash="x",
                    created_at=start,
                )
            )
        for account_id, case_id, status, minutes in rows:
            conn.execute(
                cases.insert().values(
                    id=case_id,
                    reference=f"R-{case_id}",
                    account_id=account_id,
                    status=status,
                    details="lost",
                    created_at=start + timedelta(minutes=minutes),
                    ip="192.0.2.1",
                    user_agent="ua",
                    known_device=False,
                )
            )

    upgrade(empty_database, "0008")

    audit = sa.table(
        "audit_events", *map(sa.column, ("kind", "outcome", "account_id")),
        sa.column("detail", sa.JSON),
    )  # fmt: skip
    with empty_database.connect() as conn:
        found = {
            case_id: (status, closed_at is not None)
            for case_id, status, closed_at in conn.execute(
                sa.select(cases.c.id, cases.c.status, cases.c.closed_at)
            )
        }
        events = conn.execute(sa.select(audit).order_by(audit.c.account_id)).all()
    assert found == {
        "older": ("open", False),
        "newer": ("cancelled", True),
        "done": ("completed", False),
        "asked": ("cancelled", True),
        "approved": ("approved", False),
        "alone": ("open", False),
    }
    assert [tuple(event[:3]) for event in events] == [
        ("recovery_cancelled", "duplicate", "1"),
        ("recovery_cancelled", "duplicate", "2"),
    ]
    assert [event.detail for event in events] == [
        {"case_id": "newer", "reference": "R-newer", "kept": "R-older"},
        {"case_id": "asked", "reference": "R-asked", "kept": "R-approved"},
    ]
    again = {
        "id": "again",
        "reference": "R-again",
        "account_id": "3",
        "status": "open",
        "details": "lost",
        "created_at": start,
        "ip": "192.0.2.1",
        "user_agent": "ua",
        "known_device": False,
    }
    with pytest.raises(sa.exc.IntegrityError), empty_database.begin() as conn:
        conn.execute(cases.insert().values(again))

    command.downgrade(alembic_config(empty_database), "0007")
    with empty_database.begin() as conn:
        conn.execute(cases.insert().values(again))
