"""Whole journeys through the pages, with the emails read from the real SMTP sink."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from accessguard.bootstrap import Services
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    LiveServer,
    NewPage,
    check_page,
    link_from,
    sign_in,
)
from tests.support import PASSWORD, make_account

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a brand new trading phrase 77"
ReadEmail = Callable[..., EmailMessage]


def open_link(page: Page, link: str, live_server: LiveServer) -> None:
    """Open an emailed link: it is built on the public URL, which is the live server."""
    assert link.startswith(live_server.url + "/"), link
    page.goto(link)


def test_register_verify_sign_in_see_the_account_and_sign_out(
    page: Page, live_server: LiveServer, read_email: ReadEmail
) -> None:
    email = "ada@example.com"
    page.goto("/register")
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    check_page(page, "register")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check_page(page, "register-sent")

    verify = link_from(read_email(email, containing="/verify-email?token="), "/verify-email")
    open_link(page, verify, live_server)
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    check_page(page, "verify-email")
    page.get_by_role("button", name="Confirm my email").click()
    expect(page.get_by_role("heading", name="Email confirmed")).to_be_visible()
    check_page(page, "verify-email-confirmed")

    page.goto("/login")
    sign_in(page, email, PASSWORD)
    assert urlsplit(page.url).path == "/account"
    expect(page.get_by_text(email).first).to_be_visible()
    check_page(page, "account")
    # Stacked on a phone, the sessions' two dates name themselves; side by side, the
    # column headings do.
    last_seen = page.locator('#sessions td[data-label="Last seen"]').first
    before = "e => getComputedStyle(e, '::before').content"
    page.set_viewport_size(PHONE)
    assert last_seen.evaluate(before) == '"Last seen: "'
    page.set_viewport_size(DESKTOP)
    assert last_seen.evaluate(before) == "none"

    page.get_by_role("button", name="Sign out").first.click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/login"
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    page.goto("/account")
    assert urlsplit(page.url).path == "/login", "the session outlived signing out"


def test_forgot_password_reset_by_emailed_link_ends_the_old_sessions(
    new_page: NewPage, services: Services, live_server: LiveServer, read_email: ReadEmail
) -> None:
    email = "katherine@example.com"
    make_account(services, email)
    # A session elsewhere, signed in with the old password.
    elsewhere = new_page()
    elsewhere.goto("/login")
    sign_in(elsewhere, email, PASSWORD)
    assert urlsplit(elsewhere.url).path == "/account"

    page = new_page()
    page.goto("/forgot-password")
    check_page(page, "forgot-password")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    reset = link_from(read_email(email, containing="/reset-password?token="), "/reset-password")
    open_link(page, reset, live_server)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    check_page(page, "reset-password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    check_page(page, "reset-password-done")

    # The other browser's session is gone.
    elsewhere.goto("/account")
    assert urlsplit(elsewhere.url).path == "/login", "a session survived the password reset"
    # The old password no longer works; the new one does.
    page.goto("/login")
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password.")
    sign_in(page, email, NEW_PASSWORD)
    assert urlsplit(page.url).path == "/account"
