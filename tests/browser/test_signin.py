"""/login in a real browser: the page, the generic refusal, the lock, JavaScript off, and
the keyboard alone. Each test signs in as its own customer (one database per run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from accessguard.bootstrap import Services
from tests.browser.conftest import NewPage, check_page, sign_in
from tests.support import PASSWORD, make_account

pytestmark = pytest.mark.browser


def test_sign_in_page_loads_cleanly_and_is_accessible(page: Page) -> None:
    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email address")).to_be_visible()
    check_page(page, "login")


def test_wrong_password_shows_the_generic_error_and_its_help_link(
    page: Page, services: Services
) -> None:
    email = "grace@example.com"
    make_account(services, email)
    page.goto("/login")
    sign_in(page, email, "not the right password at all")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Incorrect email or password.")
    expect(alert).to_contain_text("invalid_credentials")
    # The refusal is where the eye and a screen reader land, and the title says it first.
    expect(alert).to_be_focused()
    assert page.title().startswith("Error: Sign in")
    expect(alert.get_by_role("link")).to_have_attribute("href", "/help/invalid_credentials")
    # Nothing typed is lost but the password.
    expect(page.get_by_label("Email address")).to_have_value(email)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    check_page(page, "login-error")


def test_repeated_failures_show_the_lock_and_when_it_ends(page: Page, services: Services) -> None:
    email = "alan@example.com"
    make_account(services, email)
    page.goto("/login")
    threshold = services.settings.lockout_threshold
    for _ in range(threshold):
        sign_in(page, email, "still not the password")
    alert = page.get_by_role("alert")
    # The wrong password that locked is answered as a wrong password, and says until when.
    expect(alert).to_contain_text("Incorrect email or password.")
    expect(alert).to_contain_text("is locked until")
    ends = datetime.fromisoformat(alert.locator("time[datetime]").get_attribute("datetime") or "")
    assert ends > datetime.now(UTC)
    # The end time stays on the page once the countdown script has been running a while.
    page.wait_for_timeout(1500)
    # Rounded up to the minute, so that trying again at the time shown works.
    minute = ends.replace(second=0, microsecond=0)
    shown = minute + timedelta(minutes=1) if ends > minute else minute
    expect(alert).to_contain_text(shown.strftime("%H:%M"))
    # Even the right password is refused while the lock holds.
    page.clock.install()
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Locked until")
    assert urlsplit(page.url).path == "/login"
    check_page(page, "login-locked")
    # When the countdown ends, the sentence says so in words that read.
    page.clock.run_for(services.settings.lockout_seconds * 1000 + 2000)
    expect(page.get_by_text("You can try again now.")).to_be_visible()


def test_sign_in_works_with_javascript_disabled(new_page: NewPage, services: Services) -> None:
    email = "edsger@example.com"
    make_account(services, email)
    page = new_page(java_script_enabled=False)
    page.goto("/login")
    sign_in(page, email, PASSWORD)

    assert urlsplit(page.url).path == "/account"
    expect(page.get_by_text(email).first).to_be_visible()


def test_sign_in_by_keyboard_alone(page: Page, services: Services) -> None:
    email = "barbara@example.com"
    make_account(services, email)
    page.goto("/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(10):
        if page.evaluate("() => document.activeElement.id") == "email":
            break
        page.keyboard.press("Tab")
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/account")
    expect(page.get_by_text(email).first).to_be_visible()
