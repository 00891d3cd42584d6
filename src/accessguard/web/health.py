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


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(svc: Services = Depends(services)) -> JSONResponse:
    checks = {"database": "ok", "redis": "not configured"}
    try:
        with mapped_errors(), svc.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except AccessError:
        checks["database"] = "unavailable"
    if isinstance(svc.throttle, RedisThrottleStore):
        try:
            svc.throttle.ping()
            checks["redis"] = "ok"
        except AccessError:
            checks["redis"] = "unavailable"
    ready = "unavailable" not in checks.values()
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )
