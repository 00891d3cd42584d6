"""/status: the readiness checks of /readyz in words for customers, 503 when a part is down,
never cached."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accessguard.bootstrap import build_services
from accessguard.settings import Settings
from accessguard.web.app import create_app
from tests.conftest import FAST_HASH, TEST_KEY
from tests.support import SettableClock, free_port

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


def test_healthy_service_says_all_systems_working(
    client: TestClient, backend: dict[str, Any], clock: SettableClock
) -> None:
    response = client.get("/status", headers=HTML)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = html.unescape(response.text)
    assert "All systems working" in page
    assert "Unavailable" not in page
    assert f'datetime="{clock.now().isoformat(timespec="seconds")}"' in page
    assert "Scheduled maintenance" in page
    assert "None announced." in page
    if backend["redis_url"] is None:  # counters in the database: no row that reads as "off"
        assert "attempt counters" not in page


def test_healthy_service_answers_apps_in_json(
    client: TestClient, backend: dict[str, Any], clock: SettableClock
) -> None:
    response = client.get("/status", headers=JSON)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    redis = "ok" if backend["redis_url"] else "not configured"
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": redis},
        "checked_at": clock.now().isoformat(timespec="seconds"),
        "maintenance": [],
    }


@pytest.fixture
def database_down() -> Iterator[TestClient]:
    """An app whose PostgreSQL is not listening, built by hand: migrating would fail."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="development",
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/absent",
        redis_url=None,
        secret_keys=[TEST_KEY],
        db_timeout_seconds=1,
        **FAST_HASH,
    )
    services = build_services(settings)
    app = create_app(services=services, run_outbox_worker=False)
    try:
        with TestClient(app, base_url="https://testserver") as client:
            yield client
    finally:
        services.close()


def test_database_down_names_the_part_and_answers_503(database_down: TestClient) -> None:
    response = database_down.get("/status", headers=HTML)
    assert response.status_code == 503
    assert response.headers["cache-control"] == "no-store"
    page = html.unescape(response.text)
    assert "All systems working" not in page
    assert "Some parts are unavailable: Accounts and sign-in." in page
    assert "Scheduled maintenance" in page


def test_database_down_for_apps(database_down: TestClient) -> None:
    response = database_down.get("/status", headers=JSON)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"] == "unavailable"


def test_redis_down_names_the_part_and_answers_503(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_seconds=0.2
    )
    response = client.get("/status", headers=HTML)
    assert response.status_code == 503
    page = html.unescape(response.text)
    assert "Some parts are unavailable: Sign-in protection (attempt counters)." in page
    assert "Accounts and sign-in</th>" in page
