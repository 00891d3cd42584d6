"""Browser tests: headless Chromium (Debian's, driven by Playwright) against a live server.

One real uvicorn server per run, in a thread, on a temporary SQLite database, with the
outbox worker sending through a real aiosmtpd SMTP sink. Each test gets fresh browser
contexts that record console errors, failed requests and error responses of sub-resources,
and fail the test at teardown when there were any.

`scripts/install_browser.sh` (run by `make test`) installs Chromium and axe-core.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from accessguard.bootstrap import Services, build_services
from accessguard.settings import Settings
from accessguard.storage.sql.migrate import upgrade
from accessguard.web.app import create_app
from tests.notify.conftest import SmtpServer
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = ROOT / ".cache/npm/node_modules/axe-core/axe.min.js"
# The README's pictures are refreshed on request (`make screenshots`): a plain test run
# writes its own copies aside, so it leaves the working tree as it found it.
SCREENSHOTS = ROOT / (
    "docs/screenshots" if os.environ.get("ACCESSGUARD_UPDATE_SCREENSHOTS") else ".cache/screenshots"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
TEST_KEY = "browser-test-signing-key-" + "b" * 15  # 40 characters
EMAIL_WAIT_SECONDS = 10.0


def require_browser_tools() -> None:
    """Skip locally when Chromium or axe-core is missing; under CI that is a failure."""
    missing = [str(path) for path in (CHROMIUM, AXE_JS) if not path.exists()]
    if not missing:
        return
    message = f"browser tests need {', '.join(missing)}; install with: scripts/install_browser.sh"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# --- the live server and its mail sink -------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    services: Services
    smtp: SmtpServer

    def emails_to(self, address: str) -> list[EmailMessage]:
        wanted = address.lower()
        return [
            message
            for message in list(self.smtp.handler.messages)
            if wanted in str(message.get("To", "")).lower()
        ]


@contextmanager
def _serve(app: Any, port: int) -> Iterator[None]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        # The browser talks to the server directly: no proxy's X-Forwarded-For is believed.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="browser-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            pytest.fail(f"the live server did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_browser_tools()
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = tmp_path_factory.mktemp("browser") / "accessguard.db"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="development",
        database_url=f"sqlite:///{database}",
        public_url=url,
        # Plain http on 127.0.0.1 cannot keep Secure / __Host- cookies.
        cookie_secure=False,
        secret_keys=[TEST_KEY],
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_timeout_seconds=5,
        outbox_poll_seconds=0.5,
        # Every browser request comes from 127.0.0.1: keep per-address limits out of the way.
        address_request_limit=1000,
        address_failure_limit=1000,
    )
    services = build_services(settings)
    upgrade(services.engine)
    app = create_app(services=services, run_outbox_worker=True)
    try:
        with _serve(app, port):
            yield LiveServer(url=url, services=services, smtp=smtp)
    finally:
        services.close()
        smtp.stop()


@pytest.fixture(scope="session")
def services(live_server: LiveServer) -> Services:
    """The live server's own services (overrides the per-test fixture of tests/conftest.py)."""
    return live_server.services


def email_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    assert part is not None, f"email {message['Subject']!r} has no body"
    return str(part.get_content())


@pytest.fixture
def read_email(live_server: LiveServer) -> Callable[..., EmailMessage]:
    """Wait (bounded) for the newest email to ADDRESS, optionally one whose text contains
    CONTAINING and that arrived after the first SKIP ones to that address."""

    def read(address: str, *, containing: str | None = None, skip: int = 0) -> EmailMessage:
        deadline = time.monotonic() + EMAIL_WAIT_SECONDS
        while True:
            messages = live_server.emails_to(address)[skip:]
            if containing is not None:
                messages = [m for m in messages if containing in email_text(m)]
            if messages:
                return messages[-1]
            if time.monotonic() > deadline:
                subjects = [m["Subject"] for m in live_server.emails_to(address)]
                pytest.fail(
                    f"no email to {address}{f' containing {containing!r}' if containing else ''}"
                    f" within {EMAIL_WAIT_SECONDS:.0f} s; received: {subjects}"
                )
            time.sleep(0.1)

    return read


def link_from(message: EmailMessage, path: str) -> str:
    """The first absolute link to PATH (e.g. `/verify-email`) in an email's text."""
    match = re.search(
        r"https?://[^\s\"'<>]+" + re.escape(path) + r"\?token=[^\s\"'<>]+", email_text(message)
    )
    assert match, f"no {path} link in the email {message['Subject']!r}"
    return match.group(0)


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require_browser_tools()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageProblems:
    """What a page must never show: console errors, uncaught errors, failed requests.

    Chromium logs "Failed to load resource: ... status of 4xx" for a *document* answered
    with an error status too; a refused form (401 wrong password, 423 locked, ...) is answered
    that way on purpose, so that one message is tolerated for documents, nothing else is.
    /favicon.ico has its own test (test_pages.py) rather than failing every test here.
    """

    entries: list[str] = field(default_factory=list)
    error_documents: set[str] = field(default_factory=set)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.entries.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and (
            url in self.error_documents or urlsplit(url).path == "/favicon.ico"
        ):
            return
        self.entries.append(f"console error: {message.text} (at {url})")

    def _failed(self, request: Request) -> None:
        # Chromium fetches the favicon on its own, after the load event; moving on to the next
        # page at once aborts that fetch, which says nothing about the page.
        if request.failure == "net::ERR_ABORTED" and "/static/favicon" in request.url:
            return
        self.entries.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status < 400:
            return
        if response.request.resource_type == "document":
            self.error_documents.add(response.url)
            if response.status >= 500:
                self.entries.append(f"{response.status} for the page {response.url}")
        else:  # a stylesheet, script, image or font answered with an error: a broken page
            self.entries.append(
                f"{response.status} for {response.request.resource_type} {response.url}"
            )


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[NewPage]:
    """Open a page in a fresh context (its own cookies); keyword arguments go to
    `browser.new_context` (e.g. `java_script_enabled=False`)."""
    contexts: list[BrowserContext] = []
    problems = PageProblems()

    def make(**options: Any) -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield make
    for context in contexts:
        with suppress(PlaywrightError):
            context.close()
    assert not problems.entries, "the pages had problems:\n" + "\n".join(problems.entries)


@pytest.fixture
def page(new_page: NewPage) -> Page:
    return new_page()


def sign_in(page: Page, email: str, password: str) -> None:
    """Fill in and send the sign-in form of the page shown."""
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


# --- checks on a page: screenshots, layout, accessibility ------------------------------------


def screenshot(page: Page, name: str) -> None:
    """SCREENSHOTS/NAME-phone.png (360 px) and NAME-desktop.png (1280 px), full page;
    on the phone the page must not scroll sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size or DESKTOP
    try:
        page.set_viewport_size(PHONE)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    finally:
        page.set_viewport_size(original)
    assert overflow <= 0, f"{name}: at 360 px the page is {overflow} px too wide"


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page; the serious and critical violations.

    The page's CSP (script-src 'self') refuses an injected <script> with inline content, so
    axe's source is evaluated through the DevTools protocol instead, which CSP does not govern.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')}".rstrip())
    return "\n".join(lines)


def check_page(page: Page, name: str) -> None:
    """Screenshots at both widths, then axe in the light and the dark colour scheme."""
    screenshot(page, name)
    found: list[str] = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        violations = axe(page)
        if violations:
            found.append(f"{scheme}:\n{describe(violations)}")
    page.emulate_media(color_scheme="light")
    assert not found, f"{name}: axe found serious or critical violations\n" + "\n".join(found)
