"""Fixtures: settings per test, a settable clock, services on SQLite or PostgreSQL + Redis,
and an HTTP client through the real app (create_app), built fresh for each test."""

from __future__ import annotations

import secrets
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
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The storage a test runs on: SQLite alone, or PostgreSQL with counters in Redis."""
    if request.param == "sqlite":
        return {"database_url": f"sqlite:///{tmp_path / 'accessguard.db'}", "redis_url": None}
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


@pytest.fixture
def settings_factory(backend: dict[str, Any]) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "development",
            "public_url": "https://accounts.example.test",
            "secret_keys": [TEST_KEY],
            "address_request_limit": 1000,
            **FAST_HASH,
            **backend,
            **overrides,
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

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
