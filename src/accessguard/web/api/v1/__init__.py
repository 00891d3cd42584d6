"""Version 1 of the JSON API (API.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from accessguard.web.api.v1 import (
    accounts,
    admin,
    catalogue,
    me,
    mfa,
    mfa_sms,
    password,
    recovery,
    recovery_codes,
    signin,
)
from accessguard.web.api.v1.schemas import ErrorOut

PREFIX = "/api/v1"
# Every answer but the success documents the error envelope (openapi.json).
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 423, 429, 503)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in ERROR_STATUSES
}
# The busiest first: requests are matched against the routes in this order, so /me (which
# apps call to check their session) and sign-in are found before the rest is looked at.
ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        me,
        signin,
        accounts,
        mfa,
        mfa_sms,
        recovery_codes,
        password,
        recovery,
        admin,
        catalogue,
    )
)


def include_api(app: FastAPI) -> None:
    """The API's routers, each included in the app itself rather than through a parent
    router: FastAPI matches an included router's routes again at each level it is nested
    in. Through a parent, matching cost a sign-in 31 and /me 45 microseconds; included here,
    busiest first, 16 and 7, which is a tenth of /me's own work (docs/performance.md,
    session 26)."""
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX, responses=ERROR_RESPONSES)
