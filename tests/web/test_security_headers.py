"""Headers on every answer: HSTS when served over TLS, no-store on every API answer, and the
security headers on refusals made before the app (oversized or non-JSON bodies) too."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.web.templating import static_url
from tests.support import PASSWORD, make_account

API = "/api/v1"


def test_hsts_is_sent_when_cookies_are_secure_and_not_on_plain_http(
    client_factory: Callable[..., TestClient],
) -> None:
    secure = client_factory().get("/login")
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    plain = client_factory(cookie_secure=False, public_url="http://127.0.0.1:8000").get("/login")
    assert "strict-transport-security" not in plain.headers


def test_every_api_answer_is_no_store_personal_lists_included(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    login = client.post(f"{API}/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert login.headers["cache-control"] == "no-store"  # it carries the session token
    bearer = {"Authorization": f"Bearer {login.json()['session']['token']}"}
    for path in ("/me", "/me/sessions", "/me/login-history", "/errors"):
        answer = client.get(API + path, headers=bearer)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store", path


def test_probes_are_not_stored_and_versioned_static_files_are_kept_a_year(
    client: TestClient,
) -> None:
    # A cached "up" would hide an outage from a load balancer that asks through a cache.
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    stylesheet = static_url("app.css")
    assert client.get(stylesheet).headers["cache-control"] == (
        "public, max-age=31536000, immutable"  # its URL changes with its content
    )
    # Another hash (an old instance mid-upgrade serving the old file under the new URL, or a
    # made-up one) and no hash at all are checked again each time, by the ETag.
    for other in ("/static/app.css?v=0123456789ab", "/static/app.css"):
        answer = client.get(other)
        assert answer.headers["cache-control"] == "no-cache", other
        assert answer.headers["etag"]


def test_refusals_before_the_app_carry_the_security_headers(client: TestClient) -> None:
    too_large = client.post(
        f"{API}/login",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    not_json = client.post(
        f"{API}/login", content=b"email=x", headers={"Content-Type": "text/plain"}
    )
    for refused in (too_large, not_json):
        assert refused.status_code in (413, 415)
        assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
        assert refused.headers["cache-control"] == "no-store"
        assert refused.headers["x-request-id"]
