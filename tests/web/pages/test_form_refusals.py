"""A page form refused for what was typed (too long, left empty, holding control characters)
comes back as the same page with the refusal beside the field, in the customer's words: never
the API's JSON, nor a bare error page, and nothing is changed or counted."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from accessguard.bootstrap import Services
from accessguard.web.pages.field_words import words
from tests.support import PASSWORD, SettableClock, inbox, make_account
from tests.web.api.test_login_second_step import with_authenticator
from tests.web.pages.test_account_page import post, sign_in
from tests.web.pages.test_signin_page import HTML, csrf

LONG_EMAIL = "a" * 330 + "@example.com"
EMAIL = "ada@example.com"
CONTROL = "Remove the invisible control characters from it"


@pytest.fixture
def backend(sqlite_backend: dict[str, Any]) -> dict[str, Any]:
    """SQLite only: the pages add no storage behaviour of their own."""
    return sqlite_backend


def form_post(client: TestClient, page: str, action: str, **fields: str) -> Response:
    token = csrf(client.get(page, headers=HTML).text)
    answer: Response = client.post(
        action, data={"csrf_token": token, **fields}, headers=HTML, follow_redirects=False
    )
    return answer


def assert_same_page(answer: Response, action: str, status: int) -> None:
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert f'action="{action}"' in answer.text, "not the form's own page"


@pytest.mark.parametrize(
    ("page", "action", "fields", "said"),
    [
        ("/login", "/login", {"email": LONG_EMAIL, "password": PASSWORD}, "at most 320 characters"),
        ("/login", "/login", {"email": "", "password": PASSWORD}, "Enter your email address."),
        ("/login", "/login", {"email": EMAIL, "password": ""}, "Enter your password."),
        ("/login", "/login", {"email": EMAIL, "password": "p" * 4097}, "at most 4096 characters"),
        ("/login", "/login", {"email": EMAIL + "\x07", "password": PASSWORD}, CONTROL),
        ("/register", "/register", {"email": LONG_EMAIL, "password": PASSWORD}, "at most 320"),
        ("/forgot-password", "/forgot-password", {"email": "  "}, "Enter your email address."),
        ("/verify-email", "/verify-email/resend", {"email": "ada\x00@example.com"}, CONTROL),
        (
            "/recover",
            "/recover",
            {"email": EMAIL, "password": PASSWORD, "details": "lost it " * 300},
            "This is too long: at most 2000 characters.",
        ),
        (
            "/recover",
            "/recover",
            {"email": LONG_EMAIL, "password": PASSWORD, "details": "Phone lost."},
            "This is too long: at most 320 characters.",
        ),
    ],
)
def test_a_refused_field_is_named_beside_it_on_the_same_page(
    client: TestClient,
    services: Services,
    page: str,
    action: str,
    fields: dict[str, str],
    said: str,
) -> None:
    make_account(services)
    answer = form_post(client, page, action, **fields)
    assert_same_page(answer, action, 422)
    assert '<p class="field-error"' in answer.text
    assert said in answer.text
    assert "/help/validation_error" in answer.text
    assert PASSWORD not in answer.text
    assert inbox(services, EMAIL) == []


def test_refused_sign_in_forms_count_no_failure(client: TestClient, services: Services) -> None:
    make_account(services)
    for _ in range(services.rules.lockout_threshold + 1):
        answer = form_post(client, "/login", "/login", email=EMAIL, password="p" * 5000)
        assert answer.status_code == 422
    signed = form_post(client, "/login", "/login", email=EMAIL, password=PASSWORD)
    assert signed.status_code == 303


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("/reset-password", "reset_token_invalid"),
        ("/verify-email", "verification_token_invalid"),
        ("/recover/cancel", "recovery_token_invalid"),
    ],
)
def test_a_mangled_link_token_is_an_invalid_link_not_a_form_error(
    client: TestClient, action: str, code: str
) -> None:
    # The form's token comes from any page: a link's page without its token shows no form.
    fields = {"token": "t" * 600 + "\x01", "new_password": "a brand new and rather long phrase"}
    answer = form_post(client, "/login", action, **fields)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert f"<code>{code}</code>" in answer.text


@pytest.mark.parametrize(
    ("page", "code"),
    [
        ("/reset-password", "reset_token_invalid"),
        ("/recover/cancel", "recovery_token_invalid"),
    ],
)
def test_a_mangled_link_opened_says_the_link_is_invalid(
    client: TestClient, page: str, code: str
) -> None:
    # A link run on by a mail program: the page says what to do about the link. (Opening
    # /verify-email only shows its button; the POST above says the link is invalid.)
    answer = client.get(page, params={"token": "t" * 600}, headers=HTML)
    assert answer.status_code == 400, answer.text[:300]
    assert f"<code>{code}</code>" in answer.text


def test_the_account_page_names_a_refused_field_and_changes_nothing(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    assert sign_in(client).status_code == 303
    answer = post(client, "/account/password", current_password="p" * 5000, new_password="n" * 30)
    assert_same_page(answer, "/account/password", 422)
    assert "This is too long: at most 4096 characters." in answer.text
    phone = post(client, "/account/sms", phone="1" * 100)
    assert_same_page(phone, "/account/sms", 422)
    assert "This is too long: at most 64 characters." in phone.text
    app = post(client, "/account/totp", password="p" * 5000)
    assert app.status_code == 422
    assert "<code>validation_error</code>" in app.text
    client.cookies.clear()
    assert sign_in(client).status_code == 303  # the password is still the old one


def test_a_malformed_code_on_the_second_step_page_is_named_and_spends_no_try(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    totp, _ = with_authenticator(client, services, clock)
    first = form_post(client, "/login", "/login", email=EMAIL, password=PASSWORD)
    assert first.headers["location"].startswith("/login/mfa")
    for typo in ["12345", "abcdef", "   ", "1" * 100] * services.rules.lockout_threshold:
        answer = form_post(client, "/login/mfa", "/login/mfa", method="totp", code=typo)
        assert_same_page(answer, "/login/mfa", 422)
        assert '<p class="field-error" id="code-error">' in answer.text
        assert "attempts left" not in answer.text
    assert "Enter the 6 digits your authenticator app shows." in answer.text
    done = form_post(client, "/login/mfa", "/login/mfa", method="totp", code=totp.at(clock.now()))
    assert done.status_code == 303
    assert done.headers["location"] == "/account"


@pytest.mark.parametrize(
    ("headers", "multipart"),
    [({"Accept": "*/*"}, False), ({"Accept": "*/*"}, True), ({}, False)],
)
def test_a_form_post_refused_before_its_page_answers_in_html(
    client: TestClient, headers: dict[str, str], multipart: bool
) -> None:
    # A path parameter too long for its route is refused before any handler runs.
    action = f"/account/sessions/{'s' * 80}/revoke"
    body: dict[str, Any] = (
        {"files": {"csrf_token": (None, "x")}} if multipart else {"data": {"csrf_token": "x"}}
    )
    answer = client.post(action, headers=headers, **body)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "<code>validation_error</code>" in answer.text


def test_a_client_asking_for_json_still_gets_the_envelope(client: TestClient) -> None:
    action = f"/account/sessions/{'s' * 80}/revoke"
    answer = client.post(action, data={"csrf_token": "x"}, headers={"Accept": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("field", "message", "said"),
    [
        ("email", "is required", "Enter your email address."),
        ("new_password", "String should have at least 1 character", "Enter a new password."),
        ("details", "is longer than 2000 characters", "This is too long: at most 2000 characters."),
        (
            "note",
            "is required",
            "Enter a note: what you checked, or why you turn the request down.",
        ),
        (
            "note",
            "String should have at most 10 characters",
            "This is too long: at most 10 characters.",
        ),
        (
            "email",
            "contains a control character",
            f"{CONTROL}: they can come along when text is copied and pasted.",
        ),
        (
            "code",
            "must be the 6 digits your authenticator app shows",
            "Enter the 6 digits your authenticator app shows.",
        ),
        (
            "code",
            "needed while an authenticator app is set up",
            "Enter the code: it is needed while an authenticator app is set up.",
        ),
        (
            "phone",
            "needs the country code, starting with +",
            "This number needs the country code, starting with +.",
        ),
    ],
)
def test_field_refusals_are_put_in_the_customers_words(field: str, message: str, said: str) -> None:
    assert words(field, message) == said


def test_a_form_too_large_to_read_gets_a_page_not_json(client: TestClient) -> None:
    body = {"email": EMAIL, "password": PASSWORD, "padding": "x" * 300_000}
    refused = client.post("/login", data=body, headers={"Accept": "text/html"})
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert "payload_too_large" in refused.text
    api = client.post("/api/v1/login", content=b"{" + b" " * 70_000 + b"}")
    assert api.status_code == 413
    assert api.json()["error"]["code"] == "payload_too_large"
