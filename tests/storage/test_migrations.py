"""The Alembic migrations build exactly the schema the code uses, on both backends: a column
added to tables.py without a migration (or the reverse) fails here, not in production."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accessguard.bootstrap import Services
from accessguard.domain.emails import email_key
from accessguard.storage.sql.migrate import alembic_config, upgrade
from accessguard.storage.sql.tables import accounts, metadata


def test_migrated_database_matches_the_tables_the_code_uses(services: Services) -> None:
    with services.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_addresses_stored_as_full_width_spellings_are_rewritten_to_the_mailbox_they_denote(
    services_factory: Callable[..., Services],
) -> None:
    services = services_factory()
    command.downgrade(alembic_config(services.engine), "0003")
    wide = "\uff41\uff44\uff41@Example.com"  # as an older version stored it: NFC, as typed
    with services.engine.begin() as conn:
        conn.execute(
            accounts.insert().values(
                id="acc-1",
                email=wide,
                email_key=email_key(wide),
                password_hash="unused",
                created_at=datetime.now(UTC),
            )
        )
    upgrade(services.engine)
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(accounts.c.email)).scalar_one() == "ada@example.com"
