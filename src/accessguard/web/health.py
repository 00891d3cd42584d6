"""Liveness and readiness, for load balancers and the status page."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from accessguard.bootstrap import Services
from accessguard.domain.errors import AccessError, ServiceUnavailable
from accessguard.storage.redis.throttle import RedisThrottleStore
from accessguard.storage.sql.engine import mapped_errors
from accessguard.web.deps import services
from accessguard.web.errors import envelope_parts, request_id_of

router = APIRouter(tags=["health"])
OK, UNAVAILABLE, NOT_CONFIGURED = "ok", "unavailable", "not configured"


def _database(svc: Services) -> str:
    try:
        with mapped_errors(), svc.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except AccessError:
        return UNAVAILABLE
    return OK


def _redis(svc: Services) -> str:
    if not isinstance(svc.throttle, RedisThrottleStore):
        return NOT_CONFIGURED
    try:
        svc.throttle.ping()
    except AccessError:
        return UNAVAILABLE
    return OK


async def readiness_checks(svc: Services) -> dict[str, str]:
    """Each dependency's state: "ok", "unavailable" or "not configured" (Redis is optional).

    Each check has the adapter's own time limits, and over them one more: a database that
    stops answering on an open connection hits none of them (its server never sees the
    statement), and a load balancer must hear "unavailable", not wait. A check past its
    time is left to finish on its thread. The checks run side by side, and their limit falls
    well inside the request deadline, so that /readyz answers with its checks even when both
    dependencies stall, rather than being cut off as `request_timed_out`.
    """
    settings = svc.settings
    limit = min(
        settings.db_timeout_seconds + 1,
        (settings.db_timeout_seconds + settings.request_timeout_seconds) / 2,
    )
    checks: dict[str, str] = {}

    async def bounded(name: str, check: Callable[[Services], str]) -> None:
        checks[name] = UNAVAILABLE
        with anyio.move_on_after(limit):
            checks[name] = await anyio.to_thread.run_sync(check, svc, abandon_on_cancel=True)

    async with anyio.create_task_group() as group:
        group.start_soon(bounded, "database", _database)
        group.start_soon(bounded, "redis", _redis)
    return {"database": checks["database"], "redis": checks["redis"]}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, svc: Services = Depends(services)) -> JSONResponse:
    checks = await readiness_checks(svc)
    if UNAVAILABLE not in checks.values():
        return JSONResponse({"status": OK, "checks": checks}, headers={"Cache-Control": "no-store"})
    # Every non-2xx answer carries the contract's error body; the checks ride beside it, so
    # a load balancer and an operator both read what they need.
    refusal = ServiceUnavailable()
    body, headers = envelope_parts(refusal, request_id_of(request.scope))
    body.update(status=UNAVAILABLE, checks=checks)
    return JSONResponse(body, status_code=refusal.entry.status, headers=headers)
