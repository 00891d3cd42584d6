"""The address of a form that only takes a POST, opened on its own (a reload without its form,
history, a bookmark, a restored tab), leads to the page with that form, never to a "request
not allowed" page; and a refused form says so first in the page title."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD, make_account
from tests.web.pages.test_signin_page import HTML, submit


@pytest.fixture
def backend(sqlite_backend: dict[str, Any]) -> dict[str, Any]:
    """SQLite only: the pages add no storage behaviour of their own."""
    return sqlite_backend


@pytest.mark.parametrize(
    ("address", "page"),
    [
        ("/account/password", "/account#password"),
        ("/account/sessions/some-session/revoke", "/account#sessions"),
        ("/account/totp/remove", "/account#two-step"),
        ("/account/sms/remove", "/account#two-step"),
        ("/account/sms/current-code", "/account#two-step"),
        ("/login/mfa/sms", "/login/mfa"),
        ("/verify-email/resend", "/verify-email"),
        ("/logout", "/account"),
    ],
)
def test_a_form_address_opened_alone_leads_to_its_page(
    client: TestClient, address: str, page: str
) -> None:
    answer = client.get(address, headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == page


def test_opening_the_sign_out_address_signs_nobody_out(
    client: TestClient, services: Services
) -> None:
    # Any page could embed a GET of it: only the form's POST signs out.
    make_account(services)
    assert submit(client, PASSWORD).headers["location"] == "/account"
    assert client.get("/logout", headers=HTML).status_code == 200  # the account page
    assert client.get("/account", headers=HTML, follow_redirects=False).status_code == 200


def test_a_refused_form_says_error_first_in_the_title(client: TestClient) -> None:
    refused = submit(client, "not the right password at all")
    assert "<title>Error: Sign in · accessguard</title>" in refused.text
    assert "<title>Sign in · accessguard</title>" in client.get("/login", headers=HTML).text
