"""Alembic, configured in code so `accessguard migrate` needs no alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from accessguard.storage.sql.engine import mapped_errors

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    with mapped_errors():
        command.upgrade(alembic_config(engine), revision)


def current_revision(engine: sa.Engine) -> str | None:
    """The schema revision the database is at; None before the first migration."""
    with mapped_errors(), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
