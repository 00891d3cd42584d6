"""/recover and /recover/cancel: the lost-device recovery request and the owner's cancel link,
on the same use cases and body schema as /api/v1/recovery.

The confirmation reads the same whatever was typed, as the API's 202 does. The cancel link
only shows a button on GET (mail scanners open links); the POST cancels.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from accessguard.bootstrap import Services
from accessguard.domain.errors import AccessError, RecoveryTokenInvalid
from accessguard.domain.model import ClientInfo
from accessguard.domain.recovery_cases import DETAILS_MAX, CaseStatus, RecoveryCase
from accessguard.domain.recovery_requests import quotes_password, without_password
from accessguard.web import cookies
from accessguard.web.api.v1.recovery import RecoveryRequestBody
from accessguard.web.client import client_info
from accessguard.web.deps import services
from accessguard.web.pages.accounts import duration, form_state, validated
from accessguard.web.pages.common import FormText, check_csrf, render

router = APIRouter(include_in_schema=False)


def _form(
    request: Request,
    svc: Services,
    *,
    error: AccessError | None = None,
    **context: Any,
) -> Response:
    values = {
        "email": "",
        "details": "",
        "details_max": DETAILS_MAX,
        "wait": duration(svc.rules.recovery_wait_seconds),
        **form_state(error),
        **context,
    }
    return render(request, "pages/recover.html", values, error=error)


@router.get("/recover")
def recover_page(
    request: Request,
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    # Coming from /login/mfa ("Lost your phone?"), the address typed there is filled in. It
    # comes from the half-finished sign-in's cookie, never from the URL: an address in a
    # link would end up in logs and browser history.
    mfa_token = request.cookies.get(cookies.mfa_cookie_name(svc.settings))
    email = svc.second_step.email_of(mfa_token, client) if mfa_token else None
    return _form(request, svc, email=email or "")


@router.post("/recover")
def recover_submit(
    request: Request,
    email: FormText = "",
    password: FormText = "",
    details: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    try:
        check_csrf(request, csrf_token, session_bound=False)
        body = validated(RecoveryRequestBody, email=email, password=password, details=details)
        device_token = cookies.device_token(request, svc.settings)
        reference = svc.recovery.open(body.email, body.password, body.details, device_token, client)
    except AccessError as error:
        # What was typed stays, except the password, wherever it was typed.
        details = without_password(details, password)
        return _form(request, svc, error=error, email=email, details=details)
    svc.dispatcher_wake()
    # To a page of its own, so that reloading "Request received" does not send the form again:
    # that gave a second reference, with nothing behind it while the first case is open.
    response = RedirectResponse("/recover/sent", status_code=303)
    removed = "yes" if quotes_password(body.details, body.password) else ""
    sent = {"reference": reference, "email": body.email, "removed": removed}
    cookies.carry(response, svc.settings, "recovery_sent", sent)
    return response


@router.get("/recover/sent")
def recover_sent(request: Request, svc: Services = Depends(services)) -> Response:
    """The same page whatever was typed, as the API's 202 is."""
    sent = cookies.carried(request, svc.settings, "recovery_sent")
    if not sent or not sent.get("reference") or not sent.get("email"):
        return RedirectResponse("/recover", status_code=303)
    removed = bool(sent.get("removed"))
    reference, email = sent["reference"], sent["email"]
    return _form(request, svc, sent=True, reference=reference, email=email, removed=removed)


def _cancel_page(
    request: Request,
    state: str,
    *,
    case: RecoveryCase | None = None,
    token: str = "",
    error: AccessError | None = None,
) -> Response:
    context = {"state": state, "case": case, "token": token}
    return render(request, "pages/recover_cancel.html", context, error=error)


@router.get("/recover/cancel")
def cancel_page(
    request: Request,
    token: str = "",
    svc: Services = Depends(services),
) -> Response:
    link = svc.recovery.cancel_link(token) if token else None
    if link is None:
        return _cancel_page(request, "invalid", error=RecoveryTokenInvalid())
    if not link.usable:
        return _closed_page(request, link.case)
    return _cancel_page(request, "confirm", case=link.case, token=token)


def _closed_page(request: Request, case: RecoveryCase) -> Response:
    """A link opened again after its case closed. Cancelled or turned down, nothing changed
    and the owner is told so calmly; carried out, the link could not stop it: an error,
    with what to do if it was not the owner's request."""
    if case.status in (CaseStatus.CANCELLED, CaseStatus.REJECTED):
        return _cancel_page(request, "closed", case=case)
    return _cancel_page(request, "closed", case=case, error=RecoveryTokenInvalid())


@router.post("/recover/cancel")
def cancel_submit(
    request: Request,
    token: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    try:
        check_csrf(request, csrf_token, session_bound=False)
        case = svc.recovery.cancel(token, client)
    except RecoveryTokenInvalid as error:
        link = svc.recovery.cancel_link(token)
        if link is None:
            return _cancel_page(request, "invalid", error=error)
        return _closed_page(request, link.case)  # sent twice, or closed meanwhile
    except AccessError as error:
        link = svc.recovery.cancel_link(token)
        still = link.case if link and link.usable else None
        return _cancel_page(request, "confirm", case=still, token=token, error=error)
    svc.dispatcher_wake()
    return _cancel_page(request, "cancelled", case=case)
