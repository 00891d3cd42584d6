"""The pages without an account: help centre, its search, a code's page, status; and the
icon every browser asks for."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LiveServer, axe, check_page

pytestmark = pytest.mark.browser


def test_help_centre_search_finds_locked(page: Page) -> None:
    page.goto("/help")
    expect(page.get_by_role("heading", name="Help centre")).to_be_visible()
    check_page(page, "help")

    page.get_by_label("Search the help").fill("locked")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).query == "q=locked"
    results = page.get_by_role("region", name="Results for “locked”")
    topic = results.locator('a[href="/help/topics/account-locked"]')
    expect(topic).to_have_text("Account temporarily locked")
    expect(results.locator('a[href="/help/account_locked"]')).to_be_visible()
    check_page(page, "help-search")

    topic.click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/help/topics/account-locked"
    check_page(page, "help-topic")


def test_help_page_of_a_code(page: Page) -> None:
    page.goto("/help/account_locked")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("code", has_text="account_locked").first).to_be_visible()
    for section in ("What you see", "Why it happens", "What to do", "When to contact support"):
        expect(page.get_by_role("heading", name=section)).to_be_visible()
    check_page(page, "help-code")


def test_status_page(page: Page) -> None:
    response = page.goto("/status")
    assert response is not None
    assert response.status == 200
    check_page(page, "status")


def test_favicon_is_served(page: Page, live_server: LiveServer) -> None:
    """Browsers fetch /favicon.ico unless the page names an icon; a 404 is a console error
    on every page (the other tests tolerate that one message and leave it to this test)."""
    page.goto("/login")
    declared = page.locator('link[rel~="icon"]').count() > 0
    if not declared:
        response = page.request.get(live_server.url + "/favicon.ico")
        assert response.status == 200, (
            f"/favicon.ico answers {response.status} and the pages declare no "
            '<link rel="icon">: Chromium logs "Failed to load resource: ... 404" on every page'
        )


def test_a_refused_field_stands_out_by_more_than_colour(page: Page) -> None:
    page.goto("/register")
    page.get_by_label("Email address").fill("new@example.com")
    page.get_by_label("Password", exact=True).fill("too short")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    refused, accepted = page.locator("#password"), page.locator("#email")
    expect(refused).to_have_attribute("aria-invalid", "true")

    def border(field: Locator) -> tuple[str, str]:
        style = field.evaluate("e => getComputedStyle(e)")
        return style["borderTopWidth"], style["borderTopColor"]

    assert border(refused)[0] == "2px"
    assert border(accepted)[0] == "1px"
    assert border(refused)[1] != border(accepted)[1]
    # The thicker border takes nothing from the layout: both fields keep one height.
    heights = [box["height"] for box in (refused.bounding_box(), accepted.bounding_box()) if box]
    assert len(heights) == 2
    assert heights[0] == pytest.approx(heights[1])


def test_the_accessibility_check_catches_a_violation(page: Page) -> None:
    """The axe harness itself: a field stripped of its label must be reported."""
    page.goto("/login")
    assert axe(page) == []
    page.evaluate("() => document.querySelector('label[for=email]').remove()")
    assert "label" in {violation["id"] for violation in axe(page)}
