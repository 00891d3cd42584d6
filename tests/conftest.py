"""Fixtures: settings per test, a settable clock, services on SQLite or PostgreSQL + Redis,
and an HTTP client through the real app (create_app), built fresh for each test."""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services, build_services
from accessguard.settings import Settings
from accessguard.storage.sql.migrate import upgrade
from accessguard.storage.sql.tables import metadata
from accessguard.web.app import create_app
from tests.support import (
    REDIS_URL,
    SettableClock,
    new_pg_database,
    require_redis,
)

# Cheap Argon2 parameters keep the suite fast; tests of the real parameters set their own.
FAST_HASH: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}
TEST_KEY = "test-signing-key-" + "k" * 32


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One migrated PostgreSQL database per run; tables are emptied between tests."""
    with new_pg_database("accessguard_test") as url:
        engine = sa.create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


def _empty(url: str) -> None:
    """Every table emptied and every id sequence restarted, as a new database would be.

    DELETE, children first, not TRUNCATE: on tables of a few rows TRUNCATE costs 25-30 ms
    (a new file for each table and index) against 5 ms, paid by every PostgreSQL test."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        delete_all_rows(conn)
        sequences = conn.exec_driver_sql(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences"
        ).scalars()
        for sequence in sequences.all():
            conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} RESTART")
    engine.dispose()


def delete_all_rows(conn: sa.Connection) -> None:
    """Every table emptied, children before their parents."""
    for table in reversed(metadata.sorted_tables):
        conn.execute(table.delete())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite database per run, copied for each test that needs one: migrating
    a new file costs 70-80 ms, a copy well under 1 ms (the services' own migration then
    finds nothing to do)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "accessguard.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_backend(sqlite_template: Path, tmp_path: Path) -> dict[str, Any]:
    """SQLite alone, in a database of the test's own, migrated."""
    path = tmp_path / "accessguard.db"
    copy_database(sqlite_template, path)
    return {"database_url": f"sqlite:///{path}", "redis_url": None}


def copy_database(source_path: Path, path: Path) -> None:
    # The backup API copies a consistent database, whatever journal it was left with.
    with (
        contextlib.closing(sqlite3.connect(source_path)) as source,
        contextlib.closing(sqlite3.connect(path)) as copy,
    ):
        source.backup(copy)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The storage a test runs on: SQLite alone, or PostgreSQL with counters in Redis."""
    if request.param == "sqlite":
        return dict(request.getfixturevalue("sqlite_backend"))
    url = request.getfixturevalue("pg_database")
    require_redis()
    _empty(url)
    return {
        "database_url": url,
        "redis_url": REDIS_URL,
        "redis_key_prefix": f"agtest:{secrets.token_hex(6)}:",
    }


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


def suite_settings(**values: Any) -> Settings:
    """The suite's settings (development, cheap hashes, a fixed key), `values` on top."""
    defaults: dict[str, Any] = {
        "env": "development",
        "public_url": "https://accounts.example.test",
        "secret_keys": [TEST_KEY],
        "address_request_limit": 1000,
        **FAST_HASH,
    }
    return Settings(_env_file=None, **{**defaults, **values})  # type: ignore[call-arg]


@pytest.fixture
def settings_factory(backend: dict[str, Any]) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return suite_settings(**{**backend, **overrides})

    return make


@pytest.fixture
def services_factory(
    clock: SettableClock, settings_factory: Callable[..., Settings]
) -> Iterator[Callable[..., Services]]:
    built: list[Services] = []

    def make(**overrides: Any) -> Services:
        services = build_services(settings_factory(**overrides), clock=clock)
        upgrade(services.engine)
        built.append(services)
        return services

    yield make
    for services in built:
        services.close()


@pytest.fixture
def services(services_factory: Callable[..., Services]) -> Services:
    return services_factory()


@pytest.fixture
def client_factory(
    services_factory: Callable[..., Services],
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(services: Services | None = None, **overrides: Any) -> TestClient:
        app = create_app(
            services=services or services_factory(**overrides), run_outbox_worker=False
        )
        client = TestClient(app, base_url="https://testserver")
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory: Callable[..., TestClient], services: Services) -> TestClient:
    return client_factory(services)
