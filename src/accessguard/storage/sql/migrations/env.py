"""Alembic environment: runs on the engine handed in by `migrate.upgrade`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from accessguard.storage.sql.tables import metadata

# Longest a migration waits for one lock, the other migrators' included.
LOCK_WAIT_SECONDS = 120

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
        if connection.dialect.name == "postgresql":
            # Instances start together and each migrates: one at a time, the others then
            # find the schema current. A migration may wait for locks held by a running
            # older instance, whose statements end within their own limit; it is not held
            # to the requests' limit on a statement (the connection's options) itself.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'")
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext('accessguard-migrate'))"
            )
        context.run_migrations()
    connection.commit()

assert isinstance(engine, sa.Engine)  # noqa: S101
