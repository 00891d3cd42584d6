"""Alembic environment: runs on the engine handed in by `migrate.upgrade`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from accessguard.storage.sql.tables import metadata

engine = context.config.attributes.get("engine")
if engine is None:
    raise RuntimeError("Run migrations with `accessguard migrate`, which supplies the engine.")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

assert isinstance(engine, sa.Engine)  # noqa: S101
