"""Two-step verification on /account: the authenticator app, a phone for text-message codes
and recovery codes, on the same use cases and body schemas as /api/v1/me/mfa.

Secrets (the app's key, recovery codes) are rendered straight into the answer to the POST that
made them, which `render` marks no-store: never put in a URL, a redirect or a log. Every other
change answers with a redirect back to /account; a refusal re-renders the form it concerns.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from accessguard.bootstrap import Services
from accessguard.domain.errors import (
    AccessError,
    NotFound,
    PhoneNumberInvalid,
    TotpAlreadyEnabled,
)
from accessguard.domain.mfa_totp import Enrolment
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.domain.sms_codes import SentCode
from accessguard.web.api.v1.mfa import CodeBody, RemoveTotpBody, StartTotpBody, qr_svg
from accessguard.web.api.v1.mfa_sms import RemoveBody, StartBody
from accessguard.web.api.v1.recovery_codes import RegenerateBody
from accessguard.web.client import client_info
from accessguard.web.deps import services
from accessguard.web.pages.account import account_change, mfa_form_state, overview, to_login
from accessguard.web.pages.accounts import duration, validated
from accessguard.web.pages.common import FormText, check_csrf, render, signed_in

router = APIRouter(include_in_schema=False)


def _back(done: str, anchor: str) -> Response:
    return RedirectResponse(f"/account?done={done}#{anchor}", status_code=303)


def grouped(secret: str) -> str:
    """`ABCD EFGH …`: a key typed by hand, four characters at a time."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _codes_page(request: Request, auth: Authenticated, codes: list[str], reason: str) -> Response:
    return render(
        request, "pages/recovery_codes.html", {"codes": codes, "reason": reason}, auth=auth
    )


def _totp_page(
    request: Request,
    auth: Authenticated,
    enrolment: Enrolment | None,
    *,
    error: AccessError | None = None,
) -> Response:
    """The set-up page: with the pending key of this session, if there is one."""
    context: dict[str, Any] = {**mfa_form_state(error)}
    if enrolment is not None:
        # segno draws only svg, title, g and path elements, with fixed text: nothing to escape.
        qr = Markup(qr_svg(enrolment.otpauth_uri))  # noqa: S704
        uri = enrolment.otpauth_uri
        context |= {"secret": grouped(enrolment.secret), "otpauth_uri": uri, "qr": qr}
    return render(request, "pages/totp_setup.html", context, error=error, auth=auth)


# --------------------------------------------------------------------------- authenticator app


@router.post("/account/totp")
def totp_start(
    request: Request,
    password: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    def start(auth: Authenticated) -> Response:
        given = validated(StartTotpBody, password=password) if password else None
        svc.totp.start_enrolment(auth, client, password=given.password if given else None)
        # Shown by a page of its own (POST, redirect, GET): reloading the key's page must not
        # make a new key, which would replace the one the customer has just scanned.
        return RedirectResponse("/account/totp", status_code=303)

    return account_change(request, svc, csrf_token, "totp", start)


@router.get("/account/totp")
def totp_pending(request: Request, svc: Services = Depends(services)) -> Response:
    """The key of the set-up this session started, again; else back to the overview."""
    auth = signed_in(request)
    if auth is None:
        return to_login(request)
    enrolment = svc.totp.pending_enrolment(auth)
    if enrolment is None:
        return RedirectResponse("/account#two-step", status_code=303)
    return _totp_page(request, auth, enrolment)


@router.post("/account/totp/confirm")
def totp_confirm(
    request: Request,
    code: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    auth = signed_in(request)
    if auth is None:
        return to_login(request)
    try:
        check_csrf(request, csrf_token)
        body = validated(CodeBody, code=code)
        codes = svc.totp.confirm(auth, body.code, client)
    except (NotFound, TotpAlreadyEnabled) as error:  # no key waiting, or confirmed already
        if svc.totp.enabled(auth.account.id):
            # The page of codes reloaded (its form sent again), or set up from another
            # session meanwhile: the app is set up; the codes are not shown a second time.
            return _back("totp_set_up", "two-step")
        return overview(request, svc, auth, error=error, error_form="totp")
    except AccessError as error:
        # The key again, beside the refusal, to the session that started the set-up only.
        return _totp_page(request, auth, svc.totp.pending_enrolment(auth), error=error)
    svc.dispatcher_wake()
    return _codes_page(request, auth, codes, "totp")


@router.post("/account/totp/remove")
def totp_remove(
    request: Request,
    password: FormText = "",
    code: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    def remove(auth: Authenticated) -> Response:
        body = validated(RemoveTotpBody, password=password, code=code)
        svc.totp.remove(auth, body.password, body.code, client)
        svc.dispatcher_wake()
        return _back("totp_removed", "totp")

    return account_change(request, svc, csrf_token, "totp-remove", remove)


# --------------------------------------------------------------------------- phone (SMS)


def _shown_number(svc: Services, typed: str) -> str:
    """The number just typed, in full and in its international form, so that a typo shows
    before the code is awaited in vain. (The API's answer masks it: clients may log it.)"""
    try:
        return svc.sms.phones.normalise(typed)
    except PhoneNumberInvalid:
        return "your phone"


def _sms_page(
    request: Request,
    svc: Services,
    auth: Authenticated,
    phone: str,
    *,
    sent: SentCode | None = None,
    error: AccessError | None = None,
) -> Response:
    context = {
        "phone": phone,
        "to": _shown_number(svc, phone),
        "sent": sent is not None,
        "resend_after": sent.resend_after if sent else 0,
        "lifetime": duration(svc.rules.sms_code_seconds),
        "changing": svc.sms.enabled(auth.account.id),
        **mfa_form_state(error),
    }
    return render(request, "pages/sms_setup.html", context, error=error, auth=auth)


@router.post("/account/sms")
def sms_start(
    request: Request,
    phone: FormText = "",
    password: FormText = "",
    code: FormText = "",
    resend: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    """A code to a first number (the add form, or the code page's resend), or to a new one in
    place of the active number (the change form, with the password and a current code)."""
    auth = signed_in(request)
    if auth is None:
        return to_login(request)
    changing = svc.sms.enabled(auth.account.id)
    try:
        check_csrf(request, csrf_token)
        body = validated(StartBody, phone=phone, password=password, code=code)
        sent = svc.sms.start(auth, body.phone, client, password=body.password, code=body.code)
    except AccessError as error:
        if resend and not changing:  # asked on the code page: the code sent before still works
            return _sms_page(request, svc, auth, phone, error=error)
        form = "sms-change" if changing else "sms-add"
        return overview(request, svc, auth, error=error, error_form=form, typed={"phone": phone})
    return _sms_page(request, svc, auth, phone, sent=sent)


@router.post("/account/sms/confirm")
def sms_confirm(
    request: Request,
    code: FormText = "",
    phone: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    auth = signed_in(request)
    if auth is None:
        return to_login(request)
    changing = svc.sms.enabled(auth.account.id)
    try:
        check_csrf(request, csrf_token)
        body = validated(CodeBody, code=code)
        svc.sms.confirm(auth, body.code, client)
    except AccessError as error:
        return _sms_page(request, svc, auth, phone, error=error)
    svc.dispatcher_wake()
    return _back("sms_changed" if changing else "sms_added", "sms")


@router.post("/account/sms/current-code")
def sms_current_code(
    request: Request,
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    """A code to the number in use, for changing or removing it when there is no app."""

    def send(auth: Authenticated) -> Response:
        svc.sms.send_current_code(auth, client)
        return _back("sms_code", "sms")

    return account_change(request, svc, csrf_token, "sms-code", send)


@router.post("/account/sms/remove")
def sms_remove(
    request: Request,
    password: FormText = "",
    code: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    def remove(auth: Authenticated) -> Response:
        body = validated(RemoveBody, password=password, code=code)
        svc.sms.remove(auth, body.password, body.code, client)
        svc.dispatcher_wake()
        return _back("sms_removed", "sms")

    return account_change(request, svc, csrf_token, "sms-remove", remove)


# --------------------------------------------------------------------------- recovery codes


@router.post("/account/recovery-codes")
def recovery_codes_regenerate(
    request: Request,
    password: FormText = "",
    code: FormText = "",
    replacing: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    def regenerate(auth: Authenticated) -> Response:
        body = validated(RegenerateBody, password=password, code=code)
        # The set this form showed: sent twice (a double click, a reload), it makes one set
        # and never voids the one its first sending showed.
        codes = svc.new_recovery_codes.make(
            auth, body.password, client, code=body.code, replacing=replacing or None
        )
        svc.dispatcher_wake()
        return _codes_page(request, auth, codes, "regenerated")

    return account_change(request, svc, csrf_token, "recovery", regenerate)


# A form's address typed again, opened from history or reloaded without its form: back to
# the overview, not a "request not allowed" page.
@router.get("/account/totp/confirm")
@router.get("/account/totp/remove")
@router.get("/account/sms")
@router.get("/account/sms/confirm")
@router.get("/account/sms/current-code")
@router.get("/account/sms/remove")
@router.get("/account/recovery-codes")
def back_to_overview() -> Response:
    return RedirectResponse("/account#two-step", status_code=303)
