"""/login/mfa: the second step of a browser sign-in. The half-finished sign-in lives in an
HttpOnly cookie set by /login, never in the page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from accessguard.bootstrap import Services
from accessguard.domain.errors import (
    AccessError,
    AccountLocked,
    MfaTokenExpired,
    MfaTokenInvalid,
)
from accessguard.domain.model import ClientInfo
from accessguard.web import cookies
from accessguard.web.client import client_info
from accessguard.web.deps import services
from accessguard.web.pages import field_words
from accessguard.web.pages.accounts import duration
from accessguard.web.pages.common import FormText, check_csrf, local_path, render

router = APIRouter(include_in_schema=False)

METHOD_LABELS = {
    "totp": "Authenticator app",
    "sms": "Text message (SMS)",
    "recovery_code": "Recovery code",
}

# These end the half-finished sign-in: the customer starts again at /login.
_FATAL = (MfaTokenInvalid, MfaTokenExpired, AccountLocked)


def _restart(request: Request, svc: Services, error: AccessError, target: str) -> Response:
    response = render(request, "pages/login.html", {"next": target, "email": ""}, error=error)
    cookies.clear_mfa(response, svc.settings)
    return response


def _page(
    request: Request,
    svc: Services,
    client: ClientInfo,
    method: str,
    target: str,
    *,
    error: AccessError | None = None,
    sms_sent: bool = False,
) -> Response:
    token = request.cookies.get(cookies.mfa_cookie_name(svc.settings))
    if not token:
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    try:
        opened = svc.second_step.open(token, client)
    except _FATAL as fatal:
        return _restart(request, svc, fatal, target)
    methods = svc.second_step.methods(opened.challenge)
    chosen = method if method in methods else (methods[0] if methods else "")
    context = {
        "next": target,
        "methods": [(name, METHOD_LABELS[name]) for name in methods if name in METHOD_LABELS],
        "method": chosen,
        "method_label": METHOD_LABELS.get(chosen, ""),
        "sms_sent": sms_sent,
        "sms_cooldown": svc.settings.sms_resend_cooldown_seconds,
        "sms_lifetime": duration(svc.settings.sms_code_seconds),
        "field_errors": field_words.field_errors(error),
    }
    return render(request, "pages/login_mfa.html", context, error=error)


@router.get("/login/mfa")
def second_step_page(
    request: Request,
    method: str = "",
    next: str = "/account",
    sent: bool = False,
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    return _page(request, svc, client, method[:20], local_path(next), sms_sent=sent)


@router.post("/login/mfa")
def second_step_submit(
    request: Request,
    method: FormText = "",
    code: FormText = "",
    next: FormText = "/account",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    target = local_path(next)
    token = request.cookies.get(cookies.mfa_cookie_name(svc.settings), "")
    device = cookies.device_token(request, svc.settings)
    try:
        check_csrf(request, csrf_token, session_bound=False)
        if not token:
            raise MfaTokenInvalid()
        result = svc.second_step(token, method, code, device, client)
    except _FATAL as fatal:
        return _restart(request, svc, fatal, target)
    except AccessError as error:
        return _page(request, svc, client, method, target, error=error)
    response = RedirectResponse(target, status_code=303)
    cookies.clear_mfa(response, svc.settings)
    cookies.set_session(response, svc.settings, result.session_token, result.session_expires_at)
    cookies.set_device(response, svc.settings, result.device_token)
    return response


@router.get("/login/mfa/sms")
def back_to_second_step() -> Response:
    return RedirectResponse("/login/mfa", status_code=303)


@router.post("/login/mfa/sms")
def send_code(
    request: Request,
    next: FormText = "/account",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    target = local_path(next)
    token = request.cookies.get(cookies.mfa_cookie_name(svc.settings), "")
    try:
        check_csrf(request, csrf_token, session_bound=False)
        if not token:
            raise MfaTokenInvalid()
        svc.second_step.send_sms(token, client)
    except _FATAL as fatal:
        return _restart(request, svc, fatal, target)
    except AccessError as error:
        return _page(request, svc, client, "sms", target, error=error)
    query = urlencode({"method": "sms", "sent": "true", "next": target})
    return RedirectResponse(f"/login/mfa?{query}", status_code=303)
