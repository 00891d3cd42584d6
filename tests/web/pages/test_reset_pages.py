"""/forgot-password and /reset-password: one answer for every address, links that opening
(or a mail scanner's prefetch) does not spend, and a reset that ends every session."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, inbox, make_account, token_from
from tests.web.pages.test_signin_page import HTML, csrf

NEW = "a brand new and rather long passphrase"
EMAIL = "ada@example.com"


@pytest.fixture
def backend(sqlite_backend: dict[str, Any]) -> dict[str, Any]:
    """SQLite only: the pages add no storage behaviour of their own."""
    return sqlite_backend


@pytest.fixture
def clock() -> SettableClock:
    """Today: the test client drops session cookies already expired on the wall clock."""
    return SettableClock(datetime.now(UTC))


def post(client: TestClient, page: str, action: str, **fields: str) -> Response:
    token = csrf(client.get(page, headers=HTML).text)
    response: Response = client.post(
        action, data={"csrf_token": token, **fields}, headers=HTML, follow_redirects=False
    )
    return response


def sign_in(client: TestClient, password: str = PASSWORD) -> Response:
    return post(client, "/login", "/login", email=EMAIL, password=password)


def reset_token(client: TestClient, services: Services) -> str:
    answer = post(client, "/forgot-password", "/forgot-password", email=EMAIL)
    assert answer.status_code == 200
    return token_from(inbox(services, EMAIL)[-1]["body"], "/reset-password")


def reset_form(client: TestClient, token: str) -> Response:
    response: Response = client.get(f"/reset-password?token={token}", headers=HTML)
    return response


def test_forgot_then_reset_ends_every_session(
    client: TestClient, services: Services, client_factory: Callable[..., TestClient]
) -> None:
    make_account(services)
    other_browser = client_factory(services)
    assert sign_in(other_browser).status_code == 303
    app_token = client.post("/api/v1/login", json={"email": EMAIL, "password": PASSWORD}).json()[
        "session"
    ]["token"]

    token = reset_token(client, services)
    for _ in range(2):  # opening the link twice (a prefetch, then the customer) spends nothing
        page = reset_form(client, token)
        assert page.status_code == 200
        assert 'autocomplete="new-password"' in page.text
        assert f'name="token" value="{token}"' in page.text

    done = post(
        client, f"/reset-password?token={token}", "/reset-password", token=token, new_password=NEW
    )
    assert done.status_code == 200
    assert "Password changed" in done.text
    assert "all sessions were signed out" in done.text
    assert "Withdrawals are on hold for 24 hours" in done.text
    assert 'href="/login"' in done.text

    gone = other_browser.get("/account", headers=HTML, follow_redirects=False)
    assert gone.headers["location"] == "/login?next=/account&ended=true"  # and told so
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {app_token}"})
    assert me.status_code == 401
    assert sign_in(client).status_code == 401
    assert sign_in(client, NEW).status_code == 303
    account = client.get("/account", headers=HTML).text
    assert "Withdrawals are on hold until" in account
    # The owner's mail says as much, with the hold's end, not "for a while".
    notice = inbox(services, "ada@example.com")[-1]["body"]
    assert "reset with a password-reset link" in notice
    assert "Every session on your account was signed out, and for your protection " in notice
    assert "withdrawals are on hold until " in notice


def test_forgot_answers_alike_for_known_and_unknown(client: TestClient, services: Services) -> None:
    make_account(services)
    known = post(client, "/forgot-password", "/forgot-password", email=EMAIL)
    unknown = post(client, "/forgot-password", "/forgot-password", email="eve@example.com")
    assert known.status_code == unknown.status_code == 200
    assert "If an account exists for" in known.text
    assert "at most 3 links to one address in 15 minutes" in " ".join(known.text.split())
    strip = re.compile(r'value="[^"]*"|ada@example\.com|eve@example\.com')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)


def test_forgot_with_a_bad_email_keeps_it_and_says_why(client: TestClient) -> None:
    response = post(client, "/forgot-password", "/forgot-password", email="ada@example")
    assert response.status_code == 422
    assert 'value="ada@example"' in response.text
    assert "<code>validation_error</code>" in response.text
    assert 'href="/help/validation_error"' in response.text


@pytest.mark.parametrize("query", ["?token=not-a-real-token", "", "?token="])
def test_an_unusable_link_explains_and_offers_a_new_one(client: TestClient, query: str) -> None:
    response = client.get(f"/reset-password{query}", headers=HTML)
    assert response.status_code == 400
    assert "<code>reset_token_invalid</code>" in response.text
    assert 'href="/help/reset_token_invalid"' in response.text
    assert 'href="/forgot-password"' in response.text
    assert 'name="new_password"' not in response.text


def test_a_used_link_no_longer_shows_the_form(client: TestClient, services: Services) -> None:
    make_account(services)
    token = reset_token(client, services)
    post(client, "/forgot-password", "/reset-password", token=token, new_password=NEW)
    assert reset_form(client, token).status_code == 400
    again = post(client, "/forgot-password", "/reset-password", token=token, new_password=NEW)
    assert again.status_code == 400
    assert "<code>reset_token_invalid</code>" in again.text


def test_a_refused_password_leaves_the_link_usable(client: TestClient, services: Services) -> None:
    make_account(services)
    token = reset_token(client, services)
    short = post(client, "/forgot-password", "/reset-password", token=token, new_password="short")
    assert short.status_code == 422
    assert "Use at least 15 characters." in short.text
    assert 'href="/help/password_too_short"' in short.text
    assert f'name="token" value="{token}"' in short.text
    assert 'aria-invalid="true"' in short.text
    assert reset_form(client, token).status_code == 200
    done = post(client, "/forgot-password", "/reset-password", token=token, new_password=NEW)
    assert done.status_code == 200


def test_the_form_names_the_account_for_password_managers(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    token = reset_token(client, services)
    username = f'name="username" autocomplete="username" value="{EMAIL}" hidden readonly'
    assert username in reset_form(client, token).text
    refused = post(client, "/forgot-password", "/reset-password", token=token, new_password="x")
    assert username in refused.text
    assert EMAIL not in reset_form(client, token + "x").text


def test_the_current_password_is_refused_next_to_the_field_saying_what_to_do(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    token = reset_token(client, services)
    same = post(client, "/forgot-password", "/reset-password", token=token, new_password=PASSWORD)
    assert same.status_code == 422
    assert "This is the password the account has now." in same.text
    assert "you can keep it: there is nothing to change" in same.text
    assert 'href="/help/password_unchanged"' in same.text
    assert 'aria-invalid="true"' in same.text
    assert reset_form(client, token).status_code == 200


def test_reset_pages_are_not_stored_or_referred(client: TestClient, services: Services) -> None:
    make_account(services)
    token = reset_token(client, services)
    form = reset_form(client, token)
    assert form.headers["referrer-policy"] == "no-referrer"  # the token is in its URL
    for response in (form, client.get("/forgot-password", headers=HTML)):
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("action", ["/forgot-password", "/reset-password"])
def test_forms_without_csrf_token_are_refused(
    client: TestClient, services: Services, action: str
) -> None:
    make_account(services)
    token = reset_token(client, services)
    sent = len(inbox(services, EMAIL))
    response = client.post(
        action, data={"email": EMAIL, "token": token, "new_password": NEW}, headers=HTML
    )
    assert response.status_code == 403
    assert "<code>csrf_failed</code>" in response.text
    assert 'href="/help/csrf_failed"' in response.text
    assert len(inbox(services, EMAIL)) == sent
    assert reset_form(client, token).status_code == 200  # the link is still good


def test_a_second_sign_ups_link_reads_as_choosing_the_first_password(
    client: TestClient, services: Services
) -> None:
    for password in ("the first registrant's password", PASSWORD):
        client.post("/api/v1/accounts", json={"email": "new@example.com", "password": password})
    link = token_from(inbox(services, "new@example.com")[-1]["body"], "/reset-password")
    page = client.get(f"/reset-password?token={link}", headers=HTML)
    assert "<h1>Choose your password</h1>" in page.text
    assert "withdrawals" not in page.text
    done = client.post(
        "/reset-password",
        data={"token": link, "new_password": NEW, "csrf_token": csrf(page.text)},
        headers=HTML,
    )
    assert "<h1>Your account is ready</h1>" in done.text
    assert "withdrawals" not in done.text.lower()
    used = client.get(f"/reset-password?token={link}", headers=HTML)
    assert used.status_code == 400
    assert "<h1>This link no longer works</h1>" in used.text  # not "a new password"
    assert ">Get a new link</a>" in used.text
