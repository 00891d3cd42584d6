"""Sign-in (one or two steps) and sign-out. Browsers get cookies; apps use the tokens in the
body."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.domain.signin import SecondFactorDue, SignedIn
from accessguard.web import cookies
from accessguard.web.api.v1.answers import json_answer
from accessguard.web.api.v1.mfa_sms import CodeSentOut, code_sent
from accessguard.web.api.v1.schemas import (
    MfaRequiredOut,
    MfaTokenBody,
    SecondStepBody,
    SessionOut,
    SignInBody,
    SignInOut,
)
from accessguard.web.client import client_info, client_of
from accessguard.web.deps import current_or_ended, services

router = APIRouter(tags=["sign-in"])


def _signed_in(svc: Services, result: SignedIn) -> Response:
    response = json_answer(
        SignInOut(
            session=SessionOut(token=result.session_token, expires_at=result.session_expires_at),
            device_token=result.device_token,
        )
    )
    cookies.set_session(response, svc.settings, result.session_token, result.session_expires_at)
    cookies.set_device(response, svc.settings, result.device_token)
    return response


@router.post("/login", response_model=SignInOut | MfaRequiredOut)
async def login(body: SignInBody, request: Request) -> Response:
    # The busiest write of the API, kept lean like /me (docs/performance.md): no dependencies
    # to solve, which saved a tenth of the Python the web stack spends on each sign-in.
    svc: Services = request.app.state.services
    client = client_of(request, svc.settings)
    device_token = cookies.device_token(request, svc.settings, body.device_token)
    if svc.signin.on_event_loop:
        result = await svc.signin.sign_in_async(body.email, body.password, device_token, client)
    else:  # SQLite: the whole sign-in on a request thread, as every other write
        result = await run_in_threadpool(
            svc.signin, body.email, body.password, device_token, client
        )
    if isinstance(result, SecondFactorDue):
        return json_answer(
            MfaRequiredOut(
                mfa_token=result.mfa_token,
                methods=list(result.methods),
                expires_at=result.expires_at,
            )
        )
    return _signed_in(svc, result)


@router.post("/login/mfa", response_model=SignInOut)
def login_second_step(body: SecondStepBody, request: Request) -> Response:
    svc: Services = request.app.state.services
    client = client_of(request, svc.settings)
    device_token = cookies.device_token(request, svc.settings, body.device_token)
    result = svc.second_step(body.mfa_token, body.method, body.code, device_token, client)
    return _signed_in(svc, result)


@router.post("/login/mfa/sms", status_code=202, response_model=CodeSentOut)
def send_sign_in_sms(
    body: MfaTokenBody,
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> CodeSentOut:
    return code_sent(svc.second_step.send_sms(body.mfa_token, client))


@router.post("/logout", status_code=204)
def logout(
    response: Response,
    auth: Authenticated | None = Depends(current_or_ended),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    # Safe to retry: an app whose first sign-out timed out after it went through hears that
    # it is signed out, not an error.
    if auth is not None:
        svc.sessions.logout(auth, client)
    cookies.clear_session(response, svc.settings)
    response.status_code = 204
    return response
