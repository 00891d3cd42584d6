"""/login and sign-out, on the same sign-in use case as the API."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from accessguard.bootstrap import Services
from accessguard.domain.catalogue import CATALOGUE
from accessguard.domain.errors import AccessError, ErrorCode
from accessguard.domain.model import ClientInfo
from accessguard.domain.signin import SecondFactorDue
from accessguard.web import cookies
from accessguard.web.api.v1.schemas import Credentials
from accessguard.web.client import client_info
from accessguard.web.deps import services
from accessguard.web.pages.accounts import form_state, validated
from accessguard.web.pages.common import FormText, check_csrf, local_path, render, signed_in

router = APIRouter(include_in_schema=False)

MFA_COOKIE_GRACE_SECONDS = 600


@router.get("/")
def home(request: Request) -> Response:
    # A session cookie, live or dead, goes by /account, which says when a session has ended.
    has_cookie = cookies.session_token(request, request.app.state.services.settings)
    return RedirectResponse("/account" if has_cookie else "/login", status_code=303)


@router.get("/login")
def login_page(
    request: Request,
    next: str = "/account",
    signed_out: bool = False,
    ended: str = Query("", max_length=10),
) -> Response:
    auth = signed_in(request)
    if auth is not None:
        return RedirectResponse(local_path(next), status_code=303)
    context = {"next": local_path(next), "email": "", "signed_out": signed_out}
    if ended == "true":  # sent here by a page whose session had ended (account.to_login)
        context["ended"] = CATALOGUE[ErrorCode.SESSION_EXPIRED]
    return render(request, "pages/login.html", context)


@router.post("/login")
def login_submit(
    request: Request,
    email: FormText = "",
    password: FormText = "",
    next: FormText = "/account",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    target = local_path(next)
    try:
        check_csrf(request, csrf_token, session_bound=False)
        # The API's schema decides, so a NUL or a control character never reaches storage.
        body = validated(Credentials, email=email, password=password)
        device = cookies.device_token(request, svc.settings)
        result = svc.signin(body.email, body.password, device, client)
    except AccessError as error:
        # The password is never sent back; the email stays so the customer need not retype it.
        context = {"next": target, "email": email, **form_state(error)}
        return render(request, "pages/login.html", context, error=error)
    if isinstance(result, SecondFactorDue):
        second = RedirectResponse(f"/login/mfa?{urlencode({'next': target})}", status_code=303)
        # The cookie outlives the sign-in it carries by a while, so that a customer who took
        # too long hears mfa_token_expired ("start again"), not that the sign-in is unknown.
        lasts = svc.settings.mfa_token_seconds + MFA_COOKIE_GRACE_SECONDS
        cookies.set_mfa(second, svc.settings, result.mfa_token, lasts)
        return second
    response = RedirectResponse(target, status_code=303)
    cookies.set_session(response, svc.settings, result.session_token, result.session_expires_at)
    cookies.set_device(response, svc.settings, result.device_token)
    return response


@router.get("/logout")
def logout_page() -> Response:
    """Opened from history or a bookmark: the account page, with its Sign out button (a GET
    never signs out: any page could embed it)."""
    return RedirectResponse("/account", status_code=303)


@router.post("/logout")
def logout_submit(
    request: Request,
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    auth = signed_in(request)
    if auth is not None:
        check_csrf(request, csrf_token)
        svc.sessions.logout(auth, client)
    # No live session (signed out in another tab, say): nothing to end, so no form to check.
    response = RedirectResponse("/login?signed_out=true", status_code=303)
    cookies.clear_session(response, svc.settings)
    return response
