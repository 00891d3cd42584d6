"""FastAPI dependencies: each route names the use case it needs, nothing more."""

from __future__ import annotations

from fastapi import Request

from accessguard.bootstrap import Services
from accessguard.domain.sessions import Authenticated
from accessguard.web.cookies import session_token


async def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


async def current(request: Request) -> Authenticated:
    svc: Services = request.app.state.services
    return await svc.sessions.authenticate_async(session_token(request, svc.settings))
