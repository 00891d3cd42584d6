"""/register and /verify-email: the API's use cases behind forms, one answer whether or not an
address is taken, and verification links that a mail scanner's prefetch cannot spend."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, inbox, make_account, token_from
from tests.web.pages.test_signin_page import HTML, csrf

EMAIL = "grace@example.com"


@pytest.fixture
def backend(sqlite_backend: dict[str, Any]) -> dict[str, Any]:
    """SQLite only: the pages add no storage behaviour of their own."""
    return sqlite_backend


@pytest.fixture
def clock() -> SettableClock:
    """Today, not the shared fixed date: the test client drops a session cookie whose
    expiry, counted from the service's clock, is already past on the wall clock."""
    return SettableClock(datetime.now(UTC))


def post(client: TestClient, page: str, action: str, **fields: str) -> Response:
    """Submit the form of `page` as a browser would: with the CSRF token it was given."""
    token = csrf(client.get(page, headers=HTML).text)
    response: Response = client.post(
        action, data={"csrf_token": token, **fields}, headers=HTML, follow_redirects=False
    )
    return response


def register(client: TestClient, email: str = EMAIL, password: str = PASSWORD) -> Response:
    """Sign up with the form, and follow a success to the page it leads to."""
    response = post(client, "/register", "/register", email=email, password=password)
    if response.status_code == 303:
        assert response.headers["location"] == "/register/sent"
        response = client.get("/register/sent", headers=HTML)
    return response


def verification_token(services: Services, to: str = EMAIL) -> str:
    return token_from(inbox(services, to)[-1]["body"], "/verify-email")


def test_register_verify_and_sign_in_with_the_forms(client: TestClient, services: Services) -> None:
    response = register(client)
    assert response.status_code == 200
    assert "Check your email" in response.text
    token = verification_token(services)

    for _ in range(2):  # a mail scanner's prefetch, then the customer: neither spends it
        page = client.get(f"/verify-email?token={token}", headers=HTML)
        assert page.status_code == 200
        assert "Confirm my email" in page.text
        assert f'name="token" value="{token}"' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"

    confirmed = post(client, f"/verify-email?token={token}", "/verify-email", token=token)
    assert confirmed.status_code == 200
    assert "Email confirmed" in confirmed.text
    assert 'href="/login"' in confirmed.text

    signed_in = post(client, "/login", "/login", email=EMAIL, password=PASSWORD)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/account"
    assert EMAIL in client.get("/account", headers=HTML).text


def test_reloading_check_your_email_signs_up_nothing_again(
    client: TestClient, services: Services
) -> None:
    # A second sign-up of an unconfirmed address voids its first link (someone else may have
    # signed up with it): a reload of the page must not be one.
    register(client)
    token = verification_token(services)
    for _ in range(2):
        again = client.get("/register/sent", headers=HTML)
        assert again.status_code == 200
        assert EMAIL in again.text
    assert len(inbox(services, EMAIL)) == 1
    confirmed = post(client, f"/verify-email?token={token}", "/verify-email", token=token)
    assert "Email confirmed" in confirmed.text


def test_the_sent_page_without_a_sign_up_leads_to_the_form(client: TestClient) -> None:
    answer = client.get("/register/sent", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/register"


def test_a_taken_address_gets_the_same_page(client: TestClient, services: Services) -> None:
    make_account(services, EMAIL)
    taken = register(client, password="another rather long passphrase")
    fresh = register(client, email="new@example.com", password="another rather long passphrase")
    assert taken.status_code == fresh.status_code == 200
    assert "Check your email" in taken.text
    normalise = re.compile(r'value="[^"]*"|grace@example\.com|new@example\.com')
    assert normalise.sub("", taken.text) == normalise.sub("", fresh.text)
    assert "already" in inbox(services, EMAIL)[-1]["body"]  # the owner is told instead


def test_short_password_is_shown_beside_the_field_with_the_minimum(client: TestClient) -> None:
    response = register(client, password="short pass")
    assert response.status_code == 422
    page = response.text
    assert "This password is too short." in page
    assert "Use at least 15 characters." in page
    assert 'href="/help/password_too_short"' in page
    assert "<code>password_too_short</code>" in page
    assert response.headers["x-request-id"] in page
    assert 'aria-describedby="password-hint password-error form-error"' in page
    assert page.index('id="password"') < page.index('id="form-error"')
    assert f'value="{EMAIL}"' in page  # the email survives, the password does not
    assert "short pass" not in page


def test_a_pasted_password_too_long_is_shown_beside_the_field_at_any_length(
    client: TestClient,
) -> None:
    for length in (300, 5000):
        response = register(client, password="x" * length)
        assert response.status_code == 422
        assert "This password is too long." in response.text
        assert 'href="/help/password_too_long"' in response.text
        assert f'value="{EMAIL}"' in response.text  # the form, not an error page


def test_common_password_is_refused_with_its_code(client: TestClient) -> None:
    response = register(client, password="passwordpassword")
    assert response.status_code == 422
    assert 'href="/help/password_too_common"' in response.text
    assert f'value="{EMAIL}"' in response.text


def test_the_password_rule_is_explained_before_typing(client: TestClient) -> None:
    page = client.get("/register", headers=HTML).text
    assert "At least 15 characters, at most 256." in page
    assert "no digits or symbols are required" in page
    assert 'autocomplete="new-password"' in page
    assert 'autocomplete="username"' in page
    assert '<label for="email">' in page
    assert '<label for="password">' in page


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "ada@example.com\n", ""])
def test_bad_email_is_a_validation_error_and_is_kept(
    client: TestClient, services: Services, email: str
) -> None:
    response = register(client, email=email)
    assert response.status_code == 422
    assert "<code>validation_error</code>" in response.text
    assert 'href="/help/validation_error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert PASSWORD not in response.text
    assert inbox(services, email) == []


def test_email_typed_with_markup_is_kept_escaped(client: TestClient) -> None:
    response = register(client, email='"><script>x</script>')
    assert response.status_code == 422
    assert "<script>x" not in response.text
    assert "&#34;&gt;&lt;script&gt;" in response.text


def test_invalid_link_explains_and_offers_a_new_one(client: TestClient) -> None:
    page = client.get("/verify-email?token=nonsense", headers=HTML)
    assert page.status_code == 200  # looking is free; only the button spends the link
    response = post(client, "/verify-email?token=nonsense", "/verify-email", token="nonsense")
    assert response.status_code == 400
    assert "<code>verification_token_invalid</code>" in response.text
    assert 'href="/help/verification_token_invalid"' in response.text
    assert 'action="/verify-email/resend"' in response.text


def test_without_a_token_the_page_offers_a_new_link(client: TestClient) -> None:
    response = client.get("/verify-email", headers=HTML)
    assert response.status_code == 200
    assert 'action="/verify-email/resend"' in response.text
    assert '<label for="email">' in response.text


def test_a_link_confirmed_already_says_so_when_pressed_again(
    client: TestClient, services: Services
) -> None:
    # Back, then the button again: the address is confirmed, which is what the page says.
    register(client)
    token = verification_token(services)
    first = post(client, "/verify-email?token=x", "/verify-email", token=token)
    again = post(client, "/verify-email?token=x", "/verify-email", token=token)
    assert first.status_code == again.status_code == 200
    assert "Your email address is confirmed. You can now sign in." in again.text
    reopened = client.get(f"/verify-email?token={token}", headers=HTML)
    assert "Your email address is confirmed. You can now sign in." in reopened.text
    assert "Confirm my email" not in reopened.text


def test_resend_answers_alike_and_sends_a_working_link(
    client: TestClient, services: Services
) -> None:
    register(client)
    known = post(client, "/register", "/verify-email/resend", email=EMAIL)
    unknown = post(client, "/register", "/verify-email/resend", email="nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert "Check your email" in known.text
    assert "Check your email" in unknown.text
    # Past the cap nothing more is sent: the page says so rather than promise a new link.
    cap = f"We send at most {services.rules.recipient_email_limit} new links to one address"
    assert cap in " ".join(known.text.split())
    token = verification_token(services)
    confirmed = post(client, "/register", "/verify-email", token=token)
    assert "Email confirmed" in confirmed.text


def test_resend_with_a_bad_email_keeps_what_was_typed(client: TestClient) -> None:
    response = post(client, "/verify-email", "/verify-email/resend", email="grace@")
    assert response.status_code == 422
    assert 'value="grace@"' in response.text
    assert "<code>validation_error</code>" in response.text


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("/register", {"email": EMAIL, "password": PASSWORD}),
        ("/verify-email", {"token": "anything"}),
        ("/verify-email/resend", {"email": EMAIL}),
    ],
)
def test_forms_without_csrf_token_are_refused(
    client: TestClient, services: Services, action: str, fields: dict[str, str]
) -> None:
    client.get("/register", headers=HTML)  # the CSRF cookie is there; the form token is not
    response = client.post(action, data=fields, headers=HTML)
    assert response.status_code == 403
    assert "<code>csrf_failed</code>" in response.text
    assert 'href="/help/csrf_failed"' in response.text
    assert inbox(services, EMAIL) == []


def test_a_refused_registration_keeps_the_email_on_csrf_failure(client: TestClient) -> None:
    client.get("/register", headers=HTML)
    response = client.post("/register", data={"email": EMAIL, "password": PASSWORD}, headers=HTML)
    assert f'value="{EMAIL}"' in response.text
    assert PASSWORD not in response.text
