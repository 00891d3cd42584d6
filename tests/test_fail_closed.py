"""Fail closed: when Redis or the database does not answer, nothing that checks a secret or
counts an attempt lets it through; the answer is 503 service_unavailable, never 500."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services, build_services
from accessguard.domain.model import ClientInfo
from accessguard.settings import Settings
from accessguard.web.app import create_app
from tests.conftest import FAST_HASH, TEST_KEY
from tests.support import (
    PASSWORD,
    REDIS_URL,
    free_port,
    make_account,
    port_open,
    silent_port,
)

WRONG = "not the right password at all"


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["retry_after"] >= 1
    assert response.headers["Retry-After"] == str(error["retry_after"])
    assert "session" not in response.json()
    assert not any("session" in cookie for cookie in response.headers.get_list("set-cookie"))


def login(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post("/api/v1/login", json={"email": email, "password": password})


@pytest.fixture
def redis_down(client_factory: Callable[..., TestClient], services: Services) -> TestClient:
    """A client whose Redis is configured but not listening; the database is healthy.

    The account is made first through healthy services on the same database.
    """
    make_account(services)
    return client_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_seconds=0.2)


def test_sign_in_with_redis_down_refuses_even_the_right_password(
    redis_down: TestClient,
) -> None:
    client = redis_down
    for email, password in (
        ("ada@example.com", PASSWORD),
        ("ada@example.com", WRONG),
        ("nobody@example.com", WRONG),
    ):
        assert_unavailable(login(client, email, password))


@pytest.fixture
def silent_redis() -> Iterator[str]:
    with silent_port() as port:
        yield f"redis://127.0.0.1:{port}/0"


def test_sign_in_with_redis_hanging_times_out_into_service_unavailable(
    client_factory: Callable[..., TestClient], services: Services, silent_redis: str
) -> None:
    make_account(services)
    client = client_factory(redis_url=silent_redis, redis_timeout_seconds=0.1)
    started = time.monotonic()
    assert_unavailable(login(client, "ada@example.com", PASSWORD))
    assert time.monotonic() - started < 5


def test_counted_requests_with_redis_down_answer_service_unavailable(
    redis_down: TestClient,
) -> None:
    client = redis_down
    for path, body in (
        ("/api/v1/accounts", {"email": "eve@example.com", "password": PASSWORD}),
        ("/api/v1/password/forgot", {"email": "ada@example.com"}),
        ("/api/v1/accounts/verify-email/resend", {"email": "ada@example.com"}),
    ):
        assert_unavailable(client.post(path, json=body))


def test_a_signed_in_owners_secret_with_redis_down_is_not_judged(
    redis_down: TestClient, services: Services
) -> None:
    """Right and wrong alike answer 503: no guessing the password from a stolen session while
    the counters are out of reach."""
    signed_in = services.signin("ada@example.com", PASSWORD, None, ClientInfo("127.0.0.1", "t"))
    headers = {"Authorization": f"Bearer {signed_in.session_token}"}
    for current in (WRONG, PASSWORD):
        body = {"current_password": current, "new_password": "a brand new passphrase here"}
        assert_unavailable(redis_down.post("/api/v1/me/password", json=body, headers=headers))
    assert services.signin("ada@example.com", PASSWORD, None, ClientInfo("127.0.0.1", "t"))


def test_readyz_reports_redis_down_and_503(redis_down: TestClient) -> None:
    response = redis_down.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "redis": "unavailable"}
    # Like every non-2xx answer: the contract's error body, its reference in the log line.
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["reference"] == response.headers["X-Request-ID"]
    assert response.headers["Retry-After"] == str(body["error"]["retry_after"])


def test_readyz_is_200_when_healthy(client: TestClient, backend: dict[str, Any]) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    redis = "ok" if backend["redis_url"] else "not configured"
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": redis}}


@pytest.fixture(params=["no redis", "redis"])
def database_down(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """An app whose PostgreSQL is not listening, built by hand: migrating would fail."""
    redis_url = None
    if request.param == "redis":
        if not port_open("127.0.0.1", 6379):
            pytest.skip("Redis is not running at 127.0.0.1:6379")
        redis_url = REDIS_URL
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="development",
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/absent",
        redis_url=redis_url,
        redis_key_prefix="agtest:dbdown:",
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


def test_sign_in_with_the_database_down_answers_service_unavailable(
    database_down: TestClient,
) -> None:
    assert_unavailable(login(database_down, "ada@example.com", PASSWORD))
    assert_unavailable(login(database_down, "nobody@example.com", WRONG))


def test_session_check_with_the_database_down_answers_service_unavailable(
    database_down: TestClient,
) -> None:
    response = database_down.get("/api/v1/me", headers={"Authorization": "Bearer " + "t" * 43})
    assert_unavailable(response)


def test_readyz_reports_the_database_down_and_503(database_down: TestClient) -> None:
    response = database_down.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"] == "unavailable"
