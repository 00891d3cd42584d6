"""/dev/outbox shows sent mail in development and does not exist in production."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD


def test_development_outbox_shows_the_verification_email(
    client: TestClient, services: Services
) -> None:
    client.post("/api/v1/accounts", json={"email": "new@example.com", "password": PASSWORD})
    services.dispatcher.run_once()
    page = client.get("/dev/outbox")
    assert page.status_code == 200
    assert "new@example.com" in page.text
    assert "/verify-email?token=" in page.text


def test_outbox_page_is_absent_in_production(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(env="production")
    response = client.get("/dev/outbox")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
