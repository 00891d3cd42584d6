"""The sign-in page: works without JavaScript, keeps the email, shows catalogue errors,
refuses forms without their CSRF token and redirects only to local paths."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.web.templating import when
from tests.support import PASSWORD, inbox, make_account, token_from

HTML = {"Accept": "text/html"}


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "form without a CSRF token"
    return match.group(1)


def submit(client: TestClient, password: str, origin: str | None = None, **fields: str) -> Any:
    token = csrf(client.get("/login", headers=HTML).text)
    form = {"email": "ada@example.com", "password": password, "csrf_token": token, **fields}
    headers = HTML if origin is None else {**HTML, "Origin": origin}
    return client.post("/login", data=form, headers=headers, follow_redirects=False)


def test_sign_in_with_the_form_lands_on_the_account_page(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    response = submit(client, PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert "__Host-ag_session" in response.headers["set-cookie"]
    assert response.headers["cache-control"] == "no-store"  # it carries the session token


def test_wrong_password_shows_the_generic_error_with_help_and_keeps_the_email(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    response = submit(client, "not the password at all")
    assert response.status_code == 401
    assert "Incorrect email or password." in response.text
    assert 'href="/help/invalid_credentials"' in response.text
    assert 'value="ada@example.com"' in response.text
    assert "not the password at all" not in response.text
    assert response.headers["x-request-id"] in response.text


def follow_the_form_beside(client: TestClient, page: str, action: str) -> Any:
    """Press the one-click form a refusal offers: it carries the address just typed."""
    form = re.search(rf'<form method="post" action="{action}">(.*?)</form>', page, re.S)
    assert form, f"no {action} form beside the refusal"
    assert 'name="email" value="ada@example.com"' in form.group(1)
    data = {"email": "ada@example.com", "csrf_token": csrf(form.group(1))}
    return client.post(action, data=data, headers=HTML)


def test_an_unconfirmed_address_gets_a_new_link_in_one_click(
    client: TestClient, services: Services
) -> None:
    make_account(services, verified=False)
    refused = submit(client, PASSWORD)
    assert refused.status_code == 403
    assert "<code>email_not_verified</code>" in refused.text
    sent = follow_the_form_beside(client, refused.text, "/verify-email/resend")
    assert sent.status_code == 200
    assert "/verify-email?token=" in inbox(services, "ada@example.com")[-1]["body"]


def test_lock_shows_when_it_ends_and_lifts_with_a_reset_in_one_click(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    for i in range(5):
        response = submit(client, f"wrong password number {i}")
    assert response.status_code == 401  # the fifth wrong password, which locks
    assert "is locked until" in response.text
    assert "A password reset lifts the lock" in response.text
    assert follow_the_form_beside(client, response.text, "/forgot-password").status_code == 200
    response = submit(client, "one more try")
    assert response.status_code == 423
    assert "Locked until" in response.text
    assert "/help/account_locked" in response.text
    sent = follow_the_form_beside(client, response.text, "/forgot-password")
    assert sent.status_code == 200
    link = token_from(inbox(services, "ada@example.com")[-1]["body"], "/reset-password")
    reset = client.post(
        "/api/v1/password/reset", json={"token": link, "new_password": "a new and long password 7"}
    )
    assert reset.status_code == 204
    assert submit(client, "a new and long password 7").status_code == 303


def test_the_end_of_a_lock_is_shown_rounded_up_so_trying_then_works() -> None:
    assert when("2036-03-02T09:44:57+00:00", ends=True) == "09:45 UTC on 2 March 2036"
    assert when("2036-03-02T09:45:00+00:00", ends=True) == "09:45 UTC on 2 March 2036"
    assert when("2036-03-02T09:44:57+00:00") == "09:44 UTC on 2 March 2036"  # link expiries


def test_form_without_csrf_token_is_refused(client: TestClient, services: Services) -> None:
    make_account(services)
    client.get("/login", headers=HTML)
    response = client.post(
        "/login", data={"email": "ada@example.com", "password": PASSWORD}, headers=HTML
    )
    assert response.status_code == 403
    assert "csrf_failed" in response.text


def test_form_from_another_origin_is_refused(client: TestClient, services: Services) -> None:
    make_account(services)
    token = csrf(client.get("/login", headers=HTML).text)
    response = client.post(
        "/login",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token},
        headers={**HTML, "Origin": "https://evil.example"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", "/\x00x"],
)
def test_redirect_after_sign_in_is_local_only(
    client: TestClient, services: Services, target: str
) -> None:
    make_account(services)
    response = submit(client, PASSWORD, next=target)
    assert response.headers["location"] == "/account"


def test_local_redirect_is_kept(client: TestClient, services: Services) -> None:
    make_account(services)
    response = submit(client, PASSWORD, next="/account?tab=sessions")
    assert response.headers["location"] == "/account?tab=sessions"


def test_pages_carry_strict_security_headers(client: TestClient) -> None:
    response = client.get("/login", headers=HTML)
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "object-src 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    reset = client.get("/reset-password?token=abc", headers=HTML)
    assert reset.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


def test_static_assets_are_versioned_and_local(client: TestClient) -> None:
    page = client.get("/login", headers=HTML).text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert assets
    for asset in assets:
        assert "?v=" in asset
        assert client.get(asset).status_code == 200
    assert "http://" not in page
    assert "https://" not in page


def test_unknown_page_renders_html_for_browsers(client: TestClient) -> None:
    response = client.get("/no-such-page", headers=HTML)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "/help/not_found" in response.text


def test_cors_never_reflects_a_foreign_origin(client: TestClient) -> None:
    preflight = client.options(
        "/api/v1/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    simple = client.get("/api/v1/errors", headers={"Origin": "https://evil.example"})
    for response in (preflight, simple):
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    "email", ["ada@example.com\x00", "ada@example.com\n", "ada\u0007@example.com"]
)
def test_control_characters_in_the_email_are_a_validation_error_not_a_crash(
    client: TestClient, services: Services, email: str
) -> None:
    make_account(services)
    response = submit(client, PASSWORD, email=email)
    assert response.status_code == 422
    assert "validation_error" in response.text
    assert "ag_session" not in response.headers.get("set-cookie", "")
    assert not any(ch in response.text for ch in "\x00\x07")  # shown back without them


@pytest.mark.parametrize("origin", ["https://accounts.example.test", "https://testserver"])
def test_form_from_our_https_origin_behind_a_proxy_is_accepted(
    client: TestClient, services: Services, origin: str
) -> None:
    # A proxy that ends TLS forwards plain http: the browser's Origin says https, either
    # PUBLIC_URL's (the proxy rewrote the host) or the host the request was sent to.
    make_account(services)
    response = submit(client, PASSWORD, origin=origin)
    assert response.status_code == 303


def test_a_csrf_cookie_in_non_ascii_text_is_refused_not_a_crash(
    client: TestClient, services: Services
) -> None:
    token = csrf(client.get("/login", headers=HTML).text)
    client.cookies.clear()
    response = client.post(
        "/login",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token},
        headers=[
            (b"accept", b"text/html"),
            (b"cookie", "__Host-ag_csrf=\u00e9\u00e9".encode("latin-1")),
        ],
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_a_sign_in_form_left_open_in_another_tab_still_signs_in(
    client: TestClient, services: Services
) -> None:
    """Forms used before there is a session are not bound to one: signing in in one tab must
    not turn the other tab's sign-in form into 'form expired'."""
    make_account(services)
    left_open = csrf(client.get("/login", headers=HTML).text)
    assert submit(client, PASSWORD).status_code == 303  # the other tab
    form = {"email": "ada@example.com", "password": PASSWORD, "csrf_token": left_open}
    again = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert again.status_code == 303, again.text


def test_signing_out_in_a_tab_whose_session_ended_in_another_just_signs_out(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    assert submit(client, PASSWORD).status_code == 303
    account_page = client.get("/account", headers=HTML).text
    tab_a, tab_c = csrf(account_page), csrf(account_page)
    first = client.post("/logout", data={"csrf_token": tab_c}, headers=HTML, follow_redirects=False)
    assert first.headers["location"] == "/login?signed_out=true"
    second = client.post(
        "/logout", data={"csrf_token": tab_a}, headers=HTML, follow_redirects=False
    )
    assert second.status_code == 303
    assert second.headers["location"] == "/login?signed_out=true"
