"""/status: is the service up? The readiness checks of /readyz, in words for customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from accessguard.bootstrap import Services
from accessguard.web.deps import services
from accessguard.web.health import OK, UNAVAILABLE, readiness_checks
from accessguard.web.pages.common import render, signed_in

router = APIRouter(include_in_schema=False)


# What each dependency means to a customer, in the order shown.
PARTS = {
    "database": "Accounts and sign-in",
    "redis": "Sign-in protection (attempt counters)",
}


@dataclass(frozen=True)
class ServiceStatus:
    checks: dict[str, str]
    checked_at: datetime

    @property
    def up(self) -> bool:
        return UNAVAILABLE not in self.checks.values()

    @property
    def down(self) -> list[str]:
        return [
            PARTS.get(name, name) for name, state in self.checks.items() if state == UNAVAILABLE
        ]


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get("/status")
def status_page(request: Request, svc: Services = Depends(services)) -> Response:
    # This page runs on a worker thread (it reads the session); the checks run on the loop.
    status = ServiceStatus(anyio.from_thread.run(readiness_checks, svc), svc.clock.now())
    code = 200 if status.up else 503
    if _wants_json(request):  # apps ask the same question
        return JSONResponse(
            {
                "status": OK if status.up else UNAVAILABLE,
                "checks": status.checks,
                "checked_at": status.checked_at.isoformat(timespec="seconds"),
                "maintenance": [],
            },
            status_code=code,
            headers={"Cache-Control": "no-store"},
        )
    # Without the database no session can be checked: do not wait for it a second time.
    auth = signed_in(request) if status.checks["database"] == OK else None
    return render(
        request,
        "pages/status.html",
        {"status": status, "parts": PARTS},
        status_code=code,
        auth=auth,
    )
