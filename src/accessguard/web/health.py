"""Liveness and readiness, for load balancers and the status page."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from accessguard.bootstrap import Services
from accessguard.domain.errors import AccessError
from accessguard.storage.redis.throttle import RedisThrottleStore
from accessguard.storage.sql.engine import mapped_errors
from accessguard.web.deps import services

router = APIRouter(tags=["health"])
OK, UNAVAILABLE, NOT_CONFIGURED = "ok", "unavailable", "not configured"


def readiness_checks(svc: Services) -> dict[str, str]:
    """Each dependency's state: "ok", "unavailable" or "not configured" (Redis is optional).

    The same checks as /readyz; each is bounded by the adapter's own time limit.
    """
    checks = {"database": OK, "redis": NOT_CONFIGURED}
    try:
        with mapped_errors(), svc.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except AccessError:
        checks["database"] = UNAVAILABLE
    if isinstance(svc.throttle, RedisThrottleStore):
        try:
            svc.throttle.ping()
            checks["redis"] = OK
        except AccessError:
            checks["redis"] = UNAVAILABLE
    return checks


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(svc: Services = Depends(services)) -> JSONResponse:
    checks = readiness_checks(svc)
    ready = "unavailable" not in checks.values()
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )
