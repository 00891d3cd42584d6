"""Sessions: bearer or cookie, idle and absolute limits, revocation, password change."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, inbox, make_account


def sign_in(client: TestClient) -> str:
    response = client.post("/api/v1/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 200
    return str(response.json()["session"]["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def phone_and_laptop(
    client_factory: Callable[..., TestClient], services: Services
) -> tuple[TestClient, TestClient, str, str]:
    """Ada's account, signed in on two clients: each client and its session token."""
    make_account(services)
    phone, laptop = client_factory(services), client_factory(services)
    return phone, laptop, sign_in(phone), sign_in(laptop)


def test_no_token_is_not_authenticated(client: TestClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_unknown_token_is_not_authenticated(client: TestClient) -> None:
    response = client.get("/api/v1/me", headers=bearer("made-up-token"))
    assert response.json()["error"]["code"] == "not_authenticated"


def test_token_in_url_is_never_accepted(client: TestClient, services: Services) -> None:
    make_account(services)
    token = sign_in(client)
    client.cookies.clear()
    response = client.get(f"/api/v1/me?token={token}&session={token}")
    assert response.status_code == 401


def test_each_sign_in_gets_a_new_token(client: TestClient, services: Services) -> None:
    make_account(services)
    assert sign_in(client) != sign_in(client)


def test_logout_revokes_the_session_server_side(client: TestClient, services: Services) -> None:
    make_account(services)
    token = sign_in(client)
    assert client.post("/api/v1/logout", headers=bearer(token)).status_code == 204
    after = client.get("/api/v1/me", headers=bearer(token))
    assert after.json()["error"]["code"] == "session_expired"


def test_signing_out_again_is_not_an_error_but_a_token_never_issued_is(
    client: TestClient, services: Services
) -> None:
    # An app retrying a sign-out whose answer it lost must hear it is signed out.
    make_account(services)
    token = sign_in(client)
    client.cookies.clear()
    assert client.post("/api/v1/logout", headers=bearer(token)).status_code == 204
    again = client.post("/api/v1/logout", headers=bearer(token))
    assert again.status_code == 204
    assert "ag_session=" in again.headers["set-cookie"]  # the stale cookie goes too
    made_up = client.post("/api/v1/logout", headers=bearer("x" * 43))
    assert made_up.status_code == 401
    assert made_up.json()["error"]["code"] == "not_authenticated"
    assert client.post("/api/v1/logout").status_code == 401


def test_idle_session_expires(client: TestClient, services: Services, clock: SettableClock) -> None:
    make_account(services)
    token = sign_in(client)
    clock.advance(seconds=3599)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    clock.advance(seconds=3599)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    clock.advance(seconds=3601)
    assert (
        client.get("/api/v1/me", headers=bearer(token)).json()["error"]["code"] == "session_expired"
    )


def test_active_session_ends_at_absolute_lifetime(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    make_account(services)
    token = sign_in(client)
    for _ in range(24):  # 24 x 3500 s = 84,000 s: active all along, inside 86,400 s
        clock.advance(seconds=3500)
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    clock.advance(seconds=2401)
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.json()["error"]["code"] == "session_expired"


def test_sessions_are_listed_and_one_can_be_revoked(
    client_factory: Callable[..., TestClient], services: Services
) -> None:
    phone, laptop, phone_token, laptop_token = phone_and_laptop(client_factory, services)
    listed = laptop.get("/api/v1/me/sessions", headers=bearer(laptop_token)).json()
    assert len(listed) == 2
    assert sum(s["current"] for s in listed) == 1
    other = next(s for s in listed if not s["current"])
    assert (
        laptop.delete(
            f"/api/v1/me/sessions/{other['id']}", headers=bearer(laptop_token)
        ).status_code
        == 204
    )
    assert phone.get("/api/v1/me", headers=bearer(phone_token)).status_code == 401
    missing = laptop.delete(f"/api/v1/me/sessions/{other['id']}", headers=bearer(laptop_token))
    assert missing.json()["error"]["code"] == "not_found"


def test_cannot_revoke_someone_elses_session(
    client_factory: Callable[..., TestClient], services: Services
) -> None:
    make_account(services)
    make_account(services, "eve@example.com")
    ada = client_factory(services)
    ada_token = sign_in(ada)
    ada_session = ada.get("/api/v1/me/sessions", headers=bearer(ada_token)).json()[0]["id"]
    eve = client_factory(services)
    eve_token = eve.post(
        "/api/v1/login", json={"email": "eve@example.com", "password": PASSWORD}
    ).json()["session"]["token"]
    response = eve.delete(f"/api/v1/me/sessions/{ada_session}", headers=bearer(eve_token))
    assert response.status_code == 404
    assert ada.get("/api/v1/me", headers=bearer(ada_token)).status_code == 200


def test_password_change_revokes_every_other_session(
    client_factory: Callable[..., TestClient], services: Services
) -> None:
    phone, laptop, phone_token, laptop_token = phone_and_laptop(client_factory, services)
    inbox(services, "ada@example.com")
    changed = laptop.post(
        "/api/v1/me/password",
        headers=bearer(laptop_token),
        json={"current_password": PASSWORD, "new_password": "a brand new long passphrase"},
    )
    assert changed.status_code == 204
    assert laptop.get("/api/v1/me", headers=bearer(laptop_token)).status_code == 200
    assert phone.get("/api/v1/me", headers=bearer(phone_token)).status_code == 401
    [notice] = inbox(services, "ada@example.com")
    assert "password" in notice["subject"].lower()


def test_password_change_needs_the_current_password(client: TestClient, services: Services) -> None:
    make_account(services)
    token = sign_in(client)
    response = client.post(
        "/api/v1/me/password",
        headers=bearer(token),
        json={
            "current_password": "not my password at all",
            "new_password": "a brand new long passphrase",
        },
    )
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_password_change_to_the_same_password_is_refused_and_ends_no_session(
    client_factory: Callable[..., TestClient], services: Services
) -> None:
    phone, laptop, phone_token, laptop_token = phone_and_laptop(client_factory, services)
    refused = laptop.post(
        "/api/v1/me/password",
        headers=bearer(laptop_token),
        json={"current_password": PASSWORD, "new_password": PASSWORD},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "password_unchanged"
    assert phone.get("/api/v1/me", headers=bearer(phone_token)).status_code == 200


def test_guessing_the_current_password_locks_like_sign_in(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    token = sign_in(client)
    codes = [
        client.post(
            "/api/v1/me/password",
            headers=bearer(token),
            json={
                "current_password": f"guess number {i} of many",
                "new_password": "a brand new long passphrase",
            },
        ).json()["error"]["code"]
        for i in range(6)
    ]
    assert codes == ["invalid_credentials"] * 4 + ["account_locked"] * 2
    right = client.post(
        "/api/v1/me/password",
        headers=bearer(token),
        json={"current_password": PASSWORD, "new_password": "a brand new long passphrase"},
    )
    assert right.json()["error"]["code"] == "account_locked"


def test_cookie_borne_logout_from_another_site_is_refused_and_the_session_lives(
    client: TestClient, services: Services
) -> None:
    # A body-less POST needs no JSON, and SameSite=Lax lets the cookie ride along from a
    # sibling subdomain: what the browser says of the request's origin must decide.
    make_account(services)
    token = sign_in(client)
    client.cookies.clear()
    cookie = {"Cookie": f"__Host-ag_session={token}"}
    for foreign in (
        {"Origin": "https://evil.example.test"},
        {"Origin": "https://shop.accounts.example.test", "Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        refused = client.post("/api/v1/logout", headers={**cookie, **foreign})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    own = {"Origin": "https://accounts.example.test", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/v1/logout", headers={**cookie, **own}).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_bearer_calls_and_clients_that_are_not_browsers_are_not_refused_as_cross_site(
    client: TestClient, services: Services
) -> None:
    # Only a browser's cookie can be abused by another site; a bearer token it cannot add.
    make_account(services)
    token = sign_in(client)
    client.cookies.clear()
    foreign = {"Origin": "https://evil.example.test", "Sec-Fetch-Site": "cross-site"}
    assert client.post("/api/v1/logout", headers={**bearer(token), **foreign}).status_code == 204
    second = sign_in(client)
    client.cookies.clear()
    plain = client.post("/api/v1/logout", headers={"Cookie": f"__Host-ag_session={second}"})
    assert plain.status_code == 204


def test_activity_keeps_a_session_with_a_short_idle_timeout_alive(
    services_factory: Callable[..., Services],
    client_factory: Callable[..., TestClient],
    clock: SettableClock,
) -> None:
    # Touched at a tenth of a short timeout, not only once a minute: a request every 25 s
    # must keep a 60 s session going.
    services = services_factory(session_idle_seconds=60)
    client = client_factory(services)
    make_account(services)
    token = sign_in(client)
    for _ in range(8):
        clock.advance(seconds=25)
        assert client.get("/api/v1/me/sessions", headers=bearer(token)).status_code == 200
    clock.advance(seconds=61)
    expired = client.get("/api/v1/me/sessions", headers=bearer(token))
    assert expired.json()["error"]["code"] == "session_expired"
