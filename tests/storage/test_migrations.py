"""The Alembic migrations build exactly the schema the code uses, on both backends: a column
added to tables.py without a migration (or the reverse) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accessguard.bootstrap import Services
from accessguard.storage.sql.tables import metadata


def test_migrated_database_matches_the_tables_the_code_uses(services: Services) -> None:
    with services.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
