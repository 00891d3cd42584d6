"""/account: the security overview of the signed-in customer, its sessions (each revocable),
sign-in history in words, password change, and forms that need their CSRF token."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from accessguard.bootstrap import Services
from accessguard.domain.model import Account
from accessguard.domain.recovery_cases import CaseStatus, RecoveryCase, new_reference
from accessguard.web.pages.account import device_name, outcome_words
from tests.support import PASSWORD, SettableClock, inbox, make_account
from tests.web.pages.test_signin_page import HTML, csrf

EMAIL = "ada@example.com"
NEW = "a brand new and rather long passphrase"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
REVOKE = re.compile(r'action="/account/sessions/([^"/]+)/revoke"')


@pytest.fixture
def backend(sqlite_backend: dict[str, Any]) -> dict[str, Any]:
    """SQLite only: the pages add no storage behaviour of their own."""
    return sqlite_backend


@pytest.fixture
def clock() -> SettableClock:
    """Today: the test client drops session cookies already expired on the wall clock."""
    return SettableClock(datetime.now(UTC))


@pytest.fixture
def account(services: Services) -> Account:
    return make_account(services)


def browser(
    client_factory: Callable[..., TestClient], services: Services, user_agent: str
) -> TestClient:
    client = client_factory(services)
    client.headers["User-Agent"] = user_agent
    return client


def sign_in(client: TestClient, password: str = PASSWORD) -> Response:
    token = csrf(client.get("/login", headers=HTML).text)
    form = {"email": EMAIL, "password": password, "csrf_token": token}
    response: Response = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    return response


def account_page(client: TestClient) -> Response:
    response: Response = client.get("/account", headers=HTML, follow_redirects=False)
    return response


def post(client: TestClient, action: str, **fields: str) -> Response:
    token = csrf(account_page(client).text)
    response: Response = client.post(
        action, data={"csrf_token": token, **fields}, headers=HTML, follow_redirects=False
    )
    return response


def signed_out(client: TestClient) -> bool:
    location: str | None = account_page(client).headers.get("location")
    return location is not None and location.startswith("/login?next=/account")


@pytest.fixture
def two_browsers(
    account: Account, client_factory: Callable[..., TestClient], services: Services
) -> tuple[TestClient, TestClient]:
    """The customer's phone (this device) and their desktop, both signed in."""
    phone = browser(client_factory, services, CHROME_ANDROID)
    desktop = browser(client_factory, services, FIREFOX_WINDOWS)
    assert sign_in(desktop).status_code == 303
    assert sign_in(phone, "not my password, sorry").status_code == 401
    assert sign_in(phone).status_code == 303
    return phone, desktop


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = account_page(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account"


def test_overview_shows_email_sessions_history_and_2fa(
    two_browsers: tuple[TestClient, TestClient],
) -> None:
    phone, _ = two_browsers
    response = account_page(phone)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert EMAIL in page
    assert "Confirmed" in page
    assert "Two-step verification: not set up yet" in page
    assert page.count("This device") == 1
    assert page.index("Chrome on Android") < page.index("Firefox on Windows")
    assert len(REVOKE.findall(page)) == 1  # a button for the other session, not this one
    history = page[page.index("Sign-in history") :]
    assert history.count("Signed in") == 2
    assert "Incorrect email or password." in history
    assert 'action="/logout"' in page
    assert "Withdrawals are on hold" not in page


def test_signing_out_another_session(two_browsers: tuple[TestClient, TestClient]) -> None:
    phone, desktop = two_browsers
    (session_id,) = REVOKE.findall(account_page(phone).text)
    response = post(phone, f"/account/sessions/{session_id}/revoke")
    assert response.status_code == 303
    assert response.headers["location"] == "/account?done=session#sessions"
    page = phone.get(response.headers["location"], headers=HTML).text
    assert "That session is signed out." in page
    assert "Firefox on Windows" not in page.split("Sign-in history")[0]
    assert signed_out(desktop)
    assert not signed_out(phone)


def test_a_browser_whose_session_was_ended_elsewhere_is_told_so(
    two_browsers: tuple[TestClient, TestClient],
) -> None:
    phone, desktop = two_browsers
    (session_id,) = REVOKE.findall(account_page(phone).text)
    post(phone, f"/account/sessions/{session_id}/revoke")
    home = desktop.get("/", headers=HTML, follow_redirects=False)
    assert home.headers["location"] == "/account"  # which tells, as it does below
    redirect = account_page(desktop)
    assert redirect.headers["location"] == "/login?next=/account&ended=true"
    assert "session" in redirect.headers["set-cookie"]  # the dead cookie goes
    page = desktop.get(redirect.headers["location"], headers=HTML)
    assert page.status_code == 200
    assert "Your session has ended. Sign in again to continue." in page.text
    assert 'href="/help/session_expired"' in page.text


def test_the_ended_notice_shows_only_for_its_own_value(client: TestClient) -> None:
    for value in ("abc", "1", ""):
        page = client.get(f"/login?ended={value}", headers=HTML)
        assert page.status_code == 200
        assert "Your session has ended" not in page.text


def test_signing_out_an_unknown_session_is_not_found(
    two_browsers: tuple[TestClient, TestClient],
) -> None:
    phone, desktop = two_browsers
    response = post(phone, "/account/sessions/no-such-session/revoke")
    assert response.status_code == 404
    assert "<code>not_found</code>" in response.text
    assert 'href="/help/not_found"' in response.text
    assert not signed_out(desktop)


def test_changing_the_password_signs_out_the_other_sessions(
    two_browsers: tuple[TestClient, TestClient], services: Services
) -> None:
    phone, desktop = two_browsers
    response = post(phone, "/account/password", current_password=PASSWORD, new_password=NEW)
    assert response.status_code == 303
    assert response.headers["location"] == "/account?done=password#password"
    page = phone.get(response.headers["location"], headers=HTML).text
    assert "Your password is changed. Your other sessions were signed out" in page
    assert signed_out(desktop)
    assert not signed_out(phone)
    assert sign_in(desktop).status_code == 401
    assert sign_in(desktop, NEW).status_code == 303
    assert "password" in inbox(services, EMAIL)[-1]["subject"].lower()


def test_wrong_current_password_is_shown_beside_it(
    two_browsers: tuple[TestClient, TestClient],
) -> None:
    phone, desktop = two_browsers
    response = post(phone, "/account/password", current_password="a wrong guess", new_password=NEW)
    assert response.status_code == 401
    page = response.text
    assert "<code>invalid_credentials</code>" in page
    assert 'href="/help/invalid_credentials"' in page
    # The form has no email field: the words say which secret was wrong.
    assert "Your current password is not correct." in page
    alert = page[page.index('id="form-error"') :]
    assert "Incorrect email or password" not in alert[: alert.index("</div>")]
    assert response.headers["x-request-id"] in page
    current = page.index('id="current_password"')
    assert current < page.index('id="form-error"') < page.index('id="new_password"')
    assert "a wrong guess" not in page
    assert NEW not in page
    assert not signed_out(desktop)


def test_a_short_new_password_says_the_minimum(
    two_browsers: tuple[TestClient, TestClient],
) -> None:
    phone, _ = two_browsers
    response = post(phone, "/account/password", current_password=PASSWORD, new_password="tiny")
    assert response.status_code == 422
    assert "Use at least 15 characters." in response.text
    assert 'href="/help/password_too_short"' in response.text
    assert 'aria-describedby="new_password-hint new_password-error form-error"' in response.text


def test_a_new_password_pasted_far_too_long_is_refused_beside_the_field(
    two_browsers: tuple[TestClient, TestClient],
) -> None:
    phone, _ = two_browsers
    for length in (300, 5000):
        response = post(
            phone, "/account/password", current_password=PASSWORD, new_password="x" * length
        )
        assert response.status_code == 422
        assert 'href="/help/password_too_long"' in response.text
        assert "Use at most 256 characters." in response.text  # the length the remedy names
    assert 'aria-describedby="new_password-hint new_password-error form-error"' in response.text


def test_the_same_password_again_is_refused_beside_the_new_one_and_ends_no_session(
    two_browsers: tuple[TestClient, TestClient],
) -> None:
    phone, desktop = two_browsers
    response = post(phone, "/account/password", current_password=PASSWORD, new_password=PASSWORD)
    assert response.status_code == 422
    assert "This is the password the account has now." in response.text
    assert 'href="/help/password_unchanged"' in response.text
    assert 'aria-describedby="new_password-hint form-error"' in response.text
    assert PASSWORD not in response.text
    assert not signed_out(desktop)


@pytest.mark.parametrize("action", ["/account/password", "/account/sessions/{id}/revoke"])
def test_forms_without_csrf_token_are_refused(
    two_browsers: tuple[TestClient, TestClient], action: str
) -> None:
    phone, desktop = two_browsers
    (session_id,) = REVOKE.findall(account_page(phone).text)
    response = phone.post(
        action.format(id=session_id),
        data={"current_password": PASSWORD, "new_password": NEW},
        headers=HTML,
    )
    assert response.status_code == 403
    assert "<code>csrf_failed</code>" in response.text
    assert 'href="/help/csrf_failed"' in response.text
    assert not signed_out(desktop)
    assert sign_in(desktop).status_code == 303  # the password did not change


def test_a_form_from_another_site_is_refused(two_browsers: tuple[TestClient, TestClient]) -> None:
    phone, desktop = two_browsers
    (session_id,) = REVOKE.findall(account_page(phone).text)
    token = csrf(account_page(phone).text)
    response = phone.post(
        f"/account/sessions/{session_id}/revoke",
        data={"csrf_token": token},
        headers={**HTML, "Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert not signed_out(desktop)


def test_a_form_token_made_for_another_session_is_refused(
    two_browsers: tuple[TestClient, TestClient], services: Services
) -> None:
    """Someone who plants their own CSRF cookie in the customer's browser (a cookie-setting
    flaw elsewhere, a plain-http hop) cannot pair it with a token from their own visit."""
    phone, desktop = two_browsers
    (session_id,) = REVOKE.findall(account_page(phone).text)
    planted = csrf(account_page(desktop).text)
    name = "ag_csrf" if not services.settings.cookie_secure else "__Host-ag_csrf"
    phone.cookies.set(name, desktop.cookies[name])
    response = phone.post(
        f"/account/sessions/{session_id}/revoke", data={"csrf_token": planted}, headers=HTML
    )
    assert response.status_code == 403
    assert "<code>csrf_failed</code>" in response.text
    assert not signed_out(phone)
    # The phone's own form, shown again with the planted cookie, works.
    response = post(phone, f"/account/sessions/{session_id}/revoke")
    assert response.status_code == 303


def test_the_security_hold_is_shown_while_it_lasts(
    client: TestClient, account: Account, services: Services, clock: SettableClock
) -> None:
    sign_in(client)
    with services.uow() as uow:
        uow.accounts.set_security_hold(account.id, clock.now() + timedelta(hours=20))
    page = account_page(client).text
    assert "Withdrawals are on hold until" in page
    with services.uow() as uow:
        uow.accounts.set_security_hold(account.id, clock.now() - timedelta(minutes=1))
    assert "Withdrawals are on hold" not in account_page(client).text


def test_sign_out_from_the_account_page(client: TestClient, account: Account) -> None:
    sign_in(client)
    response = post(client, "/logout")
    assert response.headers["location"] == "/login?signed_out=true"
    assert signed_out(client)


def test_what_a_browser_sent_is_shown_escaped(
    account: Account, client_factory: Callable[..., TestClient], services: Services
) -> None:
    hostile = browser(client_factory, services, "<script>alert(1)</script>")
    sign_in(hostile)
    page = account_page(hostile).text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("user_agent", "name"),
    [
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (CHROME_ANDROID, "Chrome on Android"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on macOS",
        ),
        ("testclient", "Other device"),
        ("", "Unknown device"),
    ],
)
def test_devices_are_named_in_words(user_agent: str, name: str) -> None:
    assert device_name(user_agent) == name


def test_outcomes_are_words_from_the_catalogue() -> None:
    assert outcome_words("success") == "Signed in"
    assert outcome_words("account_locked").startswith("Your account is temporarily locked")
    assert outcome_words("something_new") == "Something new"


def test_notices_are_fixed_texts_never_the_query(client: TestClient, account: Account) -> None:
    sign_in(client)
    page = client.get("/account?done=%3Cb%3Ehacked%3C%2Fb%3E", headers=HTML).text
    assert "hacked" not in page
    assert 'class="notice"' not in page


def open_case(
    services: Services, account: Account, status: CaseStatus = CaseStatus.OPEN
) -> RecoveryCase:
    """A lost-device case on the account, stored as a request (and an approval) would."""
    now = services.clock.now()
    effective = now + timedelta(hours=48) if status is CaseStatus.APPROVED else None
    case = RecoveryCase(
        str(uuid.uuid4()),
        new_reference(),
        account.id,
        status,
        "lost my phone",
        now,
        "81.2.69.160",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "GB",
        False,
        effective_at=effective,
    )
    with services.uow() as uow:
        uow.recovery_cases.add(case, case.id)
    return case


def case_status(services: Services, case: RecoveryCase) -> str:
    with services.uow(read_only=True) as uow:
        stored = uow.recovery_cases.get(case.id)
    assert stored is not None
    return stored.status.value


def test_no_recovery_alert_without_a_request(client: TestClient, account: Account) -> None:
    sign_in(client)
    page = account_page(client).text
    assert "/account/recovery-request/cancel" not in page
    assert 'id="recovery-request"' not in page


def test_an_open_recovery_request_is_shown_and_the_owner_cancels_it(
    client: TestClient, account: Account, services: Services
) -> None:
    # The owner whose password a stranger knows sees the takeover attempt where they look
    # after the account, and stops it there.
    sign_in(client)
    case = open_case(services, account)
    page = account_page(client).text
    assert "Someone asked to remove two-step verification from your account" in page
    assert case.reference in page
    assert "from Firefox on Windows at 81.2.69.160" in " ".join(page.split())
    assert "waiting for our support team" in page
    assert 'action="/account/recovery-request/cancel"' in page
    assert "Cancel this request" in page
    response = post(client, "/account/recovery-request/cancel")
    assert response.status_code == 303
    assert response.headers["location"] == "/account?done=recovery_cancelled#recovery-request"
    assert case_status(services, case) == "cancelled"
    after = client.get(response.headers["location"], headers=HTML).text
    assert "The request to remove two-step verification is cancelled." in after
    assert "Cancel this request" not in after
    notice = inbox(services, EMAIL)[-1]
    assert "cancelled" in notice["subject"]
    assert case.reference in notice["body"]


def test_an_approved_request_says_when_it_takes_effect(
    client: TestClient, account: Account, services: Services, clock: SettableClock
) -> None:
    sign_in(client)
    open_case(services, account, CaseStatus.APPROVED)
    page = account_page(client).text
    takes_effect = (clock.now() + timedelta(hours=48)).strftime("%Y-%m-%d %H:%M UTC")
    assert "Two-step verification will be removed on" in page
    assert takes_effect in page
    assert "Cancel this request" in page


def test_cancelling_a_request_that_is_gone_says_so_from_the_catalogue(
    client: TestClient, account: Account, services: Services
) -> None:
    # Cancelled in another tab (or by the emailed link) while this page was open.
    sign_in(client)
    case = open_case(services, account)
    token = csrf(account_page(client).text)
    with services.uow() as uow:
        uow.recovery_cases.cancel_active(account.id, services.clock.now())
    response = client.post(
        "/account/recovery-request/cancel", data={"csrf_token": token}, headers=HTML
    )
    assert response.status_code == 409
    assert "<code>no_recovery_request</code>" in response.text
    assert 'href="/help/no_recovery_request"' in response.text
    assert case_status(services, case) == "cancelled"


def test_the_recovery_cancel_form_needs_its_csrf_token(
    client: TestClient, account: Account, services: Services
) -> None:
    sign_in(client)
    case = open_case(services, account)
    response = client.post("/account/recovery-request/cancel", data={}, headers=HTML)
    assert response.status_code == 403
    assert "<code>csrf_failed</code>" in response.text
    assert case_status(services, case) == "open"
