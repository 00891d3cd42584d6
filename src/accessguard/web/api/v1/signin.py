"""Sign-in and sign-out. Browsers get cookies; apps use the tokens in the body."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.web import cookies
from accessguard.web.api.v1.schemas import SessionOut, SignInBody, SignInOut
from accessguard.web.client import client_info
from accessguard.web.deps import current, services

router = APIRouter(tags=["sign-in"])


@router.post("/login", response_model=SignInOut)
def login(
    body: SignInBody,
    request: Request,
    response: Response,
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> SignInOut:
    device_token = body.device_token or request.cookies.get(
        cookies.device_cookie_name(svc.settings)
    )
    result = svc.signin(body.email, body.password, device_token, client)
    cookies.set_session(response, svc.settings, result.session_token, result.session_expires_at)
    cookies.set_device(response, svc.settings, result.device_token)
    response.headers["Cache-Control"] = "no-store"
    return SignInOut(
        status=result.next_step.value,
        session=SessionOut(token=result.session_token, expires_at=result.session_expires_at),
        device_token=result.device_token,
    )


@router.post("/logout", status_code=204)
def logout(
    response: Response,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.sessions.logout(auth, client)
    cookies.clear_session(response, svc.settings)
    response.status_code = 204
    return response
