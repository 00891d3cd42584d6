"""Two-step verification in a real browser: set up the authenticator app from the page (the
test plays the app with pyotp), sign in with its code and with a recovery code, then lose the
phone: open a recovery request, have support approve it, and cancel it from the owner's email.

The live server runs on the real clock. A code is accepted one 30-second step either side, and
a step once used never counts again, so the test confirms with the current step's code and
signs in with the next step's: both are valid whichever side of a step boundary they land.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.storage.sql.tables import audit_events
from tests.browser.conftest import LiveServer, NewPage, check_page, link_from, sign_in
from tests.support import PASSWORD, make_account

pytestmark = pytest.mark.browser

ReadEmail = Callable[..., EmailMessage]


def next_code(totp: pyotp.TOTP) -> str:
    return totp.at(time.time() + 30)


def sign_out(page: Page) -> None:
    page.goto("/account")
    page.get_by_role("button", name="Sign out").first.click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/login"


def set_up_authenticator(page: Page) -> tuple[pyotp.TOTP, list[str]]:
    """From /account: scan (read) the key, confirm with a code; the app and the codes."""
    page.goto("/account")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(page.locator(".mfa-qr svg")).to_be_visible()
    check_page(page, "totp-setup")
    secret = re.sub(r"\s", "", page.locator("#totp-key").inner_text())
    totp = pyotp.TOTP(secret)
    page.get_by_label("6-digit code").fill(totp.now())
    page.get_by_role("button", name="Turn on two-step verification").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = page.locator("ul.mfa-codes code").all_inner_texts()
    assert len(codes) == 10
    check_page(page, "recovery-codes")
    page.get_by_role("link", name="I have saved my codes").click()
    return totp, codes


def support_with_authenticator(services: Services, email: str) -> pyotp.TOTP:
    """A support account whose app is set up (through the use cases, as its owner would)."""
    client = ClientInfo("127.0.0.1", "setup")
    account = services.accounts.register(email, PASSWORD, client, verified=True, role="support")
    assert account is not None
    with services.uow() as uow:
        token, _ = services.sessions.start(uow, account.id, client, services.clock.now())
    auth = services.sessions.authenticate(token)
    enrolment = services.totp.start_enrolment(auth, client)
    totp = pyotp.TOTP(enrolment.secret)
    services.totp.confirm(auth, totp.now(), client)
    return totp


def test_authenticator_recovery_code_and_lost_phone_recovery_through_support(
    new_page: NewPage, services: Services, live_server: LiveServer, read_email: ReadEmail
) -> None:
    email = "hedy@example.com"
    make_account(services, email)
    page = new_page()
    page.goto("/login")
    sign_in(page, email, PASSWORD)
    totp, codes = set_up_authenticator(page)
    expect(page.get_by_text("10 recovery codes left")).to_be_visible()
    sign_out(page)

    # The password alone now leads to the second step; the app's code finishes it.
    sign_in(page, email, PASSWORD)
    assert urlsplit(page.url).path == "/login/mfa"
    expect(page.get_by_role("heading", name="Verify it's you")).to_be_visible()
    check_page(page, "login-mfa")
    page.get_by_label("6-digit code").fill(next_code(totp))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/account"
    sign_out(page)

    # A recovery code in place of the app, once.
    sign_in(page, email, PASSWORD)
    page.get_by_role("link", name="Recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/account"
    expect(page.get_by_text("9 recovery codes left")).to_be_visible()
    sign_out(page)

    # Phone lost, codes lost: a recovery request.
    page.goto("/recover")
    expect(
        page.get_by_role("heading", name="Lost your phone or authenticator app?")
    ).to_be_visible()
    check_page(page, "recover")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("What happened?").fill("My phone was stolen on the train yesterday.")
    page.get_by_role("button", name="Send recovery request").click()
    expect(page.get_by_role("heading", name="Request received")).to_be_visible()
    reference = page.locator("p", has_text="Your reference is").locator("strong").inner_text()
    assert reference.startswith("R-")
    opened = read_email(email, containing="/recover/cancel?token=")
    emails_before_approval = len(live_server.emails_to(email))

    # Support, signed in with its own second factor, approves it.
    support_totp = support_with_authenticator(services, "support@example.com")
    desk = new_page()
    desk.goto("/login")
    sign_in(desk, "support@example.com", PASSWORD)
    desk.get_by_label("6-digit code").fill(next_code(support_totp))
    desk.get_by_role("button", name="Verify").click()
    desk.wait_for_load_state()
    desk.goto("/admin/recovery")
    case = desk.locator("article").filter(has_text=reference)
    expect(case).to_contain_text("Known device")
    check_page(desk, "admin-recovery")
    case.get_by_label(re.compile("Note")).fill("Called the customer back on the number on file.")
    case.get_by_role("button", name="Approve").click()
    desk.wait_for_load_state()

    # The owner hears at once and cancels with one click from the email.
    approved = read_email(email, containing="/recover/cancel?token=", skip=emails_before_approval)
    assert approved["Subject"] != opened["Subject"]
    page.goto(link_from(approved, "/recover/cancel"))
    expect(page.get_by_role("heading", name="Cancel account recovery")).to_be_visible()
    check_page(page, "recover-cancel")
    page.get_by_role("button", name="Cancel this request").click()
    expect(page.get_by_role("heading", name="Request cancelled")).to_be_visible()

    # The app still guards the account: the cancelled case never removes it.
    page.goto("/login")
    sign_in(page, email, PASSWORD)
    assert urlsplit(page.url).path == "/login/mfa"
    desk.goto("/admin/recovery")
    expect(desk.locator("article").filter(has_text=reference)).to_contain_text("Cancelled")


# Chromium offers WebOTP on Android only: here the browser's side is played by a stand-in that
# answers as Chrome does once the text has arrived, and records what the page asked for.
WEB_OTP = """
window.OTPCredential = window.OTPCredential || function OTPCredential() {};
window.__otpAsked = [];
navigator.credentials.get = (options) => {
  window.__otpAsked.push(JSON.stringify(options.otp));
  return Promise.resolve({ type: "otp", code: "493817" });
};
"""


def test_a_double_click_on_new_recovery_codes_shows_the_new_codes(
    new_page: NewPage, services: Services
) -> None:
    # Sent twice, the form would make one set and answer the second sending with
    # recovery_codes_replaced: the page shown, while the codes made were never seen.
    email = "margaret@example.com"
    account = make_account(services, email)
    page = new_page()
    page.goto("/login")
    sign_in(page, email, PASSWORD)
    _, first_set = set_up_authenticator(page)
    page.goto("/account")
    page.get_by_label("Your password").last.fill(PASSWORD)
    # Two presses 30 ms apart, a double click: the first sending is on its way.
    page.get_by_role("button", name="Make new codes").evaluate(
        "button => { button.click(); setTimeout(() => button.click(), 30); }"
    )
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = page.locator("ul.mfa-codes code").all_inner_texts()
    assert len(codes) == 10
    assert not set(codes) & set(first_set)
    made = sa.select(sa.func.count()).where(
        audit_events.c.account_id == account.id,
        audit_events.c.kind == "recovery_codes_regenerated",
    )
    with services.engine.connect() as conn:
        assert conn.execute(made).scalar_one() == 1  # one sending reached the server


def test_a_texted_code_is_filled_in_when_the_browser_reads_it(
    new_page: NewPage, services: Services
) -> None:
    email = "ada.sms@example.com"
    make_account(services, email)
    page = new_page()
    page.add_init_script(WEB_OTP)
    page.goto("/login")
    sign_in(page, email, PASSWORD)
    page.goto("/account")
    assert page.evaluate("window.__otpAsked") == []  # no field awaits a text here
    page.get_by_label("Mobile number").fill("+44 7700 900123")
    page.get_by_role("button", name="Text me a code").click()
    code = page.locator("#sms-code")
    expect(code).to_have_value("493817")
    assert page.evaluate("window.__otpAsked") == ['{"transport":["sms"]}']
