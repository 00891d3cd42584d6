"""Forgot and reset: same answer always, single-use links from the configured URL only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.errors import ResetTokenInvalid
from accessguard.domain.model import ClientInfo
from tests.support import PASSWORD, SettableClock, inbox, make_account, token_from

NEW = "my new and rather long passphrase"


def forgot(client: TestClient, email: object, **headers: str) -> int:
    return client.post(
        "/api/v1/password/forgot", json={"email": email}, headers=headers
    ).status_code


def reset_link_token(services: Services) -> str:
    return token_from(inbox(services, "ada@example.com")[-1]["body"], "/reset-password")


def signed_in_with_a_reset_link(client: TestClient, services: Services) -> tuple[str, str]:
    """Ada's account, a session of hers, then a reset link mailed to her: both tokens."""
    make_account(services)
    old = client.post("/api/v1/login", json={"email": "ada@example.com", "password": PASSWORD})
    forgot(client, "ada@example.com")
    return old.json()["session"]["token"], reset_link_token(services)


def test_forgot_answers_202_for_known_and_unknown(client: TestClient, services: Services) -> None:
    make_account(services)
    assert forgot(client, "ada@example.com") == 202
    assert forgot(client, "nobody@example.com") == 202


def test_link_uses_public_url_not_the_request_host(client: TestClient, services: Services) -> None:
    make_account(services)
    forgot(
        client,
        "ada@example.com",
        Host="evil.example",
        **{"X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example"},
    )
    body = inbox(services, "ada@example.com")[-1]["body"]
    assert "https://accounts.example.test/reset-password?token=" in body
    assert "evil" not in body


def test_email_as_list_or_object_or_comma_list_is_refused(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    for value in (
        ["ada@example.com", "eve@example.com"],
        {"email": "ada@example.com"},
        "ada@example.com,eve@example.com",
    ):
        response = client.post("/api/v1/password/forgot", json={"email": value})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_error"
    assert inbox(services, "eve@example.com") == []


def test_reset_changes_password_ends_sessions_and_sets_hold(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    old_token, token = signed_in_with_a_reset_link(client, services)
    assert (
        client.post(
            "/api/v1/password/reset", json={"token": token, "new_password": NEW}
        ).status_code
        == 204
    )
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {old_token}"}).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/login", json={"email": "ada@example.com", "password": PASSWORD}
        ).status_code
        == 401
    )
    fresh = client.post("/api/v1/login", json={"email": "ada@example.com", "password": NEW})
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {fresh.json()['session']['token']}"}
    )
    hold = datetime.fromisoformat(me.json()["security_hold_until"])
    assert hold == clock.now() + timedelta(hours=24)
    notice = inbox(services, "ada@example.com")[-1]
    assert "changed" in notice["subject"].lower()


def test_reset_to_the_current_password_is_refused_and_leaves_the_link_and_sessions(
    client: TestClient, services: Services
) -> None:
    old_token, token = signed_in_with_a_reset_link(client, services)
    # The same password in another Unicode form (NFKC) is the same password.
    same = PASSWORD.replace("a", "\uff41", 1)
    refused = client.post("/api/v1/password/reset", json={"token": token, "new_password": same})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "password_unchanged"
    bearer = {"Authorization": f"Bearer {old_token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert (
        client.post(
            "/api/v1/password/reset", json={"token": token, "new_password": NEW}
        ).status_code
        == 204
    )


def test_reset_token_is_single_use(client: TestClient, services: Services) -> None:
    make_account(services)
    forgot(client, "ada@example.com")
    token = reset_link_token(services)
    client.post("/api/v1/password/reset", json={"token": token, "new_password": NEW})
    again = client.post(
        "/api/v1/password/reset",
        json={"token": token, "new_password": "yet another long passphrase"},
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "reset_token_invalid"


def test_reset_token_expires_after_30_minutes(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    make_account(services)
    forgot(client, "ada@example.com")
    token = reset_link_token(services)
    clock.advance(seconds=1801)
    response = client.post("/api/v1/password/reset", json={"token": token, "new_password": NEW})
    assert response.json()["error"]["code"] == "reset_token_invalid"


def test_new_link_voids_the_older_one(client: TestClient, services: Services) -> None:
    make_account(services)
    forgot(client, "ada@example.com")
    first = reset_link_token(services)
    forgot(client, "ada@example.com")
    second = reset_link_token(services)
    assert (
        client.post(
            "/api/v1/password/reset", json={"token": first, "new_password": NEW}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/v1/password/reset", json={"token": second, "new_password": NEW}
        ).status_code
        == 204
    )


def test_password_change_voids_reset_links(client: TestClient, services: Services) -> None:
    make_account(services)
    forgot(client, "ada@example.com")
    token = reset_link_token(services)
    session = client.post(
        "/api/v1/login", json={"email": "ada@example.com", "password": PASSWORD}
    ).json()["session"]
    client.post(
        "/api/v1/me/password",
        headers={"Authorization": f"Bearer {session['token']}"},
        json={"current_password": PASSWORD, "new_password": NEW},
    )
    response = client.post(
        "/api/v1/password/reset",
        json={"token": token, "new_password": "yet another long passphrase"},
    )
    assert response.status_code == 400


def test_refused_new_password_leaves_the_link_usable(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    forgot(client, "ada@example.com")
    token = reset_link_token(services)
    weak = client.post(
        "/api/v1/password/reset", json={"token": token, "new_password": "passwordpassword"}
    )
    assert weak.json()["error"]["code"] == "password_too_common"
    assert (
        client.post(
            "/api/v1/password/reset", json={"token": token, "new_password": NEW}
        ).status_code
        == 204
    )


def test_reset_lifts_the_lockout(
    client_factory: Callable[..., TestClient], services: Services
) -> None:
    make_account(services)
    client = client_factory(services)
    for i in range(5):
        client.post("/api/v1/login", json={"email": "ada@example.com", "password": f"bad {i} pw"})
    forgot(client, "ada@example.com")
    client.post(
        "/api/v1/password/reset", json={"token": reset_link_token(services), "new_password": NEW}
    )
    assert (
        client.post("/api/v1/login", json={"email": "ada@example.com", "password": NEW}).status_code
        == 200
    )


def test_made_up_reset_token_is_refused_before_any_hash(services: Services) -> None:
    # Otherwise every request with an invented token would cost the server an Argon2 hash.
    hashed: list[str] = []
    real = services.passwords.hasher

    class CountingHasher:
        def hash(self, password: str) -> str:
            hashed.append(password)
            return real.hash(password)

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    passwords = dataclasses.replace(services.passwords, hasher=CountingHasher())
    client_info = ClientInfo(ip="203.0.113.5", user_agent="test")
    with pytest.raises(ResetTokenInvalid):
        passwords.reset("made-up-token", NEW, client_info)
    assert hashed == []
    make_account(services)
    services.passwords.forgot("ada@example.com", client_info)
    passwords.reset(reset_link_token(services), NEW, client_info)
    assert len(hashed) == 1  # the same counter sees the hash of a real reset


def test_reset_by_emailed_link_also_confirms_an_unconfirmed_address(
    client: TestClient, services: Services
) -> None:
    client.post("/api/v1/accounts", json={"email": "new@example.com", "password": PASSWORD})
    inbox(services, "new@example.com")
    forgot(client, "new@example.com")
    token = token_from(inbox(services, "new@example.com")[-1]["body"], "/reset-password")
    reset = client.post("/api/v1/password/reset", json={"token": token, "new_password": NEW})
    assert reset.status_code == 204
    login = client.post("/api/v1/login", json={"email": "new@example.com", "password": NEW})
    assert login.status_code == 200


def test_one_inbox_gets_at_most_three_reset_mails_per_window_whoever_asks(
    client: TestClient, services: Services
) -> None:
    # Requests from many addresses cannot flood one inbox, with an account or without; every
    # answer stays 202, so the limit tells nobody anything.
    make_account(services)
    for email in ("ada@example.com", "nobody@example.com"):
        for i in range(5):
            assert forgot(client, email, **{"X-Forwarded-For": f"203.0.113.{i}"}) == 202
        assert len(inbox(services, email)) == 3


def test_a_new_password_made_of_the_address_is_refused_as_at_registration(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    forgot(client, "ada@example.com")
    token = reset_link_token(services)
    made_of_it = {"token": token, "new_password": "ada@example.com ada@example.com"}
    refused = client.post("/api/v1/password/reset", json=made_of_it)
    assert refused.json()["error"]["code"] == "password_too_common"
    chosen = client.post("/api/v1/password/reset", json={"token": token, "new_password": NEW})
    assert chosen.status_code == 204  # the link was not spent by the refusal
