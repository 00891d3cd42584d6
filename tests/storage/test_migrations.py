"""The Alembic migrations build exactly the schema the code uses, on both backends: a column
added to tables.py without a migration (or the reverse) fails here, not in production."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accessguard.bootstrap import Services
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
