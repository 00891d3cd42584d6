"""FastAPI dependencies: each route names the use case it needs, nothing more."""

from __future__ import annotations

from fastapi import Request

from accessguard.bootstrap import Services
from accessguard.domain.errors import SessionExpired
from accessguard.domain.sessions import Authenticated
from accessguard.web.cookies import session_token


async def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


async def current(request: Request) -> Authenticated:
    svc: Services = request.app.state.services
    return await svc.sessions.authenticate_async(session_token(request, svc.settings))


async def current_or_ended(request: Request) -> Authenticated | None:
    """`current`, or None for a session that existed and has ended (signed out, expired): for
    sign-out, which is then already done. A token that was never a session is still refused."""
    try:
        return await current(request)
    except SessionExpired:
        return None
