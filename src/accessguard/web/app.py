"""`create_app(settings)`: the FastAPI application, built fresh for each caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from accessguard import __version__
from accessguard.bootstrap import Services, build_services
from accessguard.notify.outbox import DispatchReport
from accessguard.notify.worker import OutboxWorker
from accessguard.settings import Settings
from accessguard.storage.sql.housekeeping import purge
from accessguard.web import errors, health
from accessguard.web.api.v1 import include_api
from accessguard.web.middleware.body_limit import BodyLimitMiddleware
from accessguard.web.middleware.deadline import DeadlineMiddleware
from accessguard.web.middleware.head_as_get import HeadAsGetMiddleware
from accessguard.web.middleware.json_only import JsonOnlyMiddleware
from accessguard.web.middleware.request_id import RequestIdMiddleware
from accessguard.web.middleware.security_headers import SecurityHeadersMiddleware
from accessguard.web.origin import origin_of
from accessguard.web.pages import account as account_page
from accessguard.web.pages import account_mfa as account_mfa_pages
from accessguard.web.pages import accounts as accounts_pages
from accessguard.web.pages import admin as admin_pages
from accessguard.web.pages import dev_outbox
from accessguard.web.pages import help as help_pages
from accessguard.web.pages import mfa_signin as mfa_signin_pages
from accessguard.web.pages import recover as recover_pages
from accessguard.web.pages import signin as signin_pages
from accessguard.web.pages import status as status_page
from accessguard.web.templating import STATIC


class _WithHousekeeping:
    """The outbox worker's pass, plus an hourly purge of expired rows and, each minute, the
    completion of approved recovery cases whose waiting period is over."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._next_purge: datetime | None = None
        self._next_recovery: datetime | None = None

    def run_once(
        self, limit: int = 50, keep_going: Callable[[], bool] = lambda: True
    ) -> DispatchReport:
        now = self._services.clock.now()
        if self._next_purge is None or now >= self._next_purge:
            self._next_purge = now + timedelta(hours=1)
            purge(self._services.engine, now)
        if self._next_recovery is None or now >= self._next_recovery:
            self._next_recovery = now + timedelta(minutes=1)
            # Before the dispatch, so the owner's email goes out in this same pass.
            self._services.recovery_completion.run_due()
        return self._services.dispatcher.run_once(limit, keep_going)


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    run_outbox_worker: bool = True,
) -> FastAPI:
    services = services or build_services(settings or Settings())
    worker = None
    if run_outbox_worker:
        worker = OutboxWorker(
            _WithHousekeeping(services), poll_seconds=services.settings.outbox_poll_seconds
        )
        services.on_queued.append(worker.wake)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                # One send's time limits at most: SIGTERM must not wait out a dead mail server.
                worker.stop(timeout=services.settings.smtp_timeout_seconds + 5)
            if services.signin_store is not None:
                await services.signin_store.aclose()
            await services.session_reads.aclose()

    app = FastAPI(
        title="accessguard",
        version=__version__,
        lifespan=lifespan,
        # No 307 to the path without its trailing slash: Starlette builds that Location from
        # the Host header, and clients resend the body (a password) to wherever it points.
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry goes live as soon as anything in the process sets a
        # provider, and then exports what no log of ours may hold: validation failures with
        # their messages (which quote the input, passwords included) and request URLs (which
        # carry emailed tokens). Off, it also skips a provider lookup on every request. Our
        # request log (middleware/request_id.py) is the record of each request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.services = services
    errors.install(app)
    include_api(app)
    app.include_router(health.router)
    app.include_router(signin_pages.router)
    app.include_router(mfa_signin_pages.router)
    app.include_router(accounts_pages.router)
    app.include_router(account_page.router)
    app.include_router(account_mfa_pages.router)
    app.include_router(help_pages.router)
    app.include_router(recover_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(status_page.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if services.settings.env == "development":
        app.include_router(dev_outbox.router)
    # Added last = outermost: every answer, refusals by the inner middlewares included,
    # carries a request reference and the security headers; HEAD is logged as HEAD.
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(JsonOnlyMiddleware, public_origin=origin_of(services.settings.public_url))
    # Around the JSON check, which reads the whole body, so a slow body is bounded too; its
    # late answer still goes out with the reference and the security headers.
    app.add_middleware(DeadlineMiddleware, seconds=services.settings.request_timeout_seconds)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, https_only=services.settings.cookie_secure)
    app.add_middleware(RequestIdMiddleware)
    return app
