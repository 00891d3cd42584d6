"""/account: the signed-in customer's security overview, on the same use cases as /api/v1/me.

Every change is a form POST answered with a redirect back to the page (reloading never sends
it twice); a refused one re-renders the page with the refusal next to the form it concerns.
The two-step verification forms live in `account_mfa.py`; their status is drawn here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from accessguard.bootstrap import Services
from accessguard.domain.catalogue import CATALOGUE
from accessguard.domain.errors import AccessError, ErrorCode, PhoneNumberInvalid, ValidationFailed
from accessguard.domain.history import SECOND_STEP_DUE
from accessguard.domain.model import ClientInfo
from accessguard.domain.recovery_cases import CaseStatus
from accessguard.domain.sessions import Authenticated
from accessguard.web import cookies
from accessguard.web.api.v1.schemas import ChangePasswordBody
from accessguard.web.client import client_info
from accessguard.web.deps import services
from accessguard.web.geo import place_of
from accessguard.web.pages import field_words
from accessguard.web.pages.accounts import duration, form_state, password_rule, validated
from accessguard.web.pages.common import FormText, check_csrf, render, signed_in

router = APIRouter(include_in_schema=False)

# Only these fixed texts can appear, whatever ?done= says: nothing from the URL is echoed.
NOTICES = {
    "password": "Your password is changed. Your other sessions were signed out; "
    "this one stays signed in.",
    "session": "That session is signed out.",
    # Shown in the two-step verification section, where the form was.
    "totp_removed": "The authenticator app is removed. Sign-ins no longer ask for its codes.",
    "totp_set_up": "Your authenticator app is set up. Recovery codes are shown only once, when "
    "they are made: if you did not save them, make a new set under “Recovery codes” below.",
    "sms_added": "Your phone number is added. Sign-ins can now ask for a code by text message.",
    "sms_changed": "Your phone number is changed. Sign-in codes now go to the new number.",
    "sms_removed": "Your phone number is removed. Sign-in codes no longer go to it.",
    "sms_code": "A code is on its way to your current number. Enter it below.",
    "recovery_cancelled": "The request to remove two-step verification is cancelled. "
    "Your two-step verification stays as it is.",
}
TWO_STEP_NOTICES = frozenset(
    {"totp_removed", "totp_set_up", "sms_added", "sms_changed", "sms_removed", "sms_code"}
)
RECOVERY_CODES_LOW = 3
# Refusals about the code typed: the code field is marked invalid, the message is above it.
_CODE_REFUSALS = {
    ErrorCode.INVALID_MFA_CODE,
    ErrorCode.MFA_CODE_REUSED,
    ErrorCode.TOTP_CLOCK_DRIFT,
    ErrorCode.SMS_CODE_EXPIRED,
}
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def device_name(user_agent: str) -> str:
    """ "Firefox on Windows": enough to recognise one's own device; the full string is shown too."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or ("Unknown device" if not user_agent else "Other device")


def outcome_words(outcome: str) -> str:
    if outcome == "success":
        return "Signed in"
    if outcome == SECOND_STEP_DUE:
        return "Right password; second step asked"
    try:
        return CATALOGUE[ErrorCode(outcome)].message
    except (ValueError, KeyError):
        return outcome.replace("_", " ").capitalize()


def stamp(moment: datetime) -> dict[str, str]:
    return {
        "iso": moment.isoformat(timespec="seconds"),
        "text": moment.strftime("%Y-%m-%d %H:%M UTC"),
    }


def to_login(request: Request) -> Response:
    """To sign in, and back here after. A browser that still brought a session cookie had its
    session ended (idle, too old, signed out elsewhere, a password change): the sign-in page
    says so, and the dead cookie goes."""
    settings = request.app.state.services.settings
    if cookies.session_token(request, settings) is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    response = RedirectResponse("/login?next=/account&ended=true", status_code=303)
    cookies.clear_session(response, settings)
    return response


def account_change(
    request: Request,
    svc: Services,
    csrf_token: str,
    error_form: str,
    change: Callable[[Authenticated], Response],
) -> Response:
    """What every form on /account does around its change: signed-out visitors go to sign
    in, the CSRF token is checked, and a refusal re-renders the page beside `error_form`."""
    auth = signed_in(request)
    if auth is None:
        return to_login(request)
    try:
        check_csrf(request, csrf_token)
        return change(auth)
    except AccessError as error:
        return overview(request, svc, auth, error=error, error_form=error_form)


def mfa_form_state(error: AccessError | None) -> dict[str, Any]:
    """Which field of a two-step form a refusal concerns: a named field, the password, the
    code; None puts it above the form."""
    fields: dict[str, str] = {}
    culprit = None
    if isinstance(error, ValidationFailed | PhoneNumberInvalid):
        fields = field_words.field_errors(error)
        culprit = next(iter(fields), None)
    elif error is not None and error.code is ErrorCode.INVALID_CREDENTIALS:
        culprit = "password"
    elif error is not None and error.code in _CODE_REFUSALS:
        culprit = "code"
    return {"mfa_error_field": culprit, "mfa_field_errors": fields}


def two_step_status(svc: Services, auth: Authenticated) -> dict[str, Any]:
    account_id = auth.account.id
    factors = svc.accounts.second_factors(account_id)
    left = factors.recovery_codes_left
    return {
        "totp_on": factors.totp,
        "phone": svc.sms.number_on_file(account_id) if factors.sms else None,
        "codes_left": left,
        "codes_low": (factors.totp or factors.sms) and left <= RECOVERY_CODES_LOW,
        # Only where the form to make new codes is shown.
        "codes_set": svc.recovery_codes.current_set(account_id) if factors.app_or_phone else "",
        # A session signed in by text message proves the app to make new codes.
        "codes_need_app": factors.totp and svc.totp.codes_need_the_app(auth),
    }


def recovery_alert(svc: Services, account_id: str) -> dict[str, Any] | None:
    """The account's open or approved lost-device request, for the alert at the top: the
    owner may be the one it is being done to."""
    case = svc.recovery.active(account_id)
    if case is None:
        return None
    return {
        "reference": case.reference,
        "approved": case.status is CaseStatus.APPROVED,
        "opened": stamp(case.created_at),
        "takes_effect": stamp(case.effective_at) if case.effective_at else None,
        "ip": case.ip,
        "place": place_of(case.ip),
        "device": device_name(case.user_agent),
        "cancellable": case.cancellable(svc.clock.now()),
        "wait": duration(svc.rules.recovery_wait_seconds),
    }


def overview(
    request: Request,
    svc: Services,
    auth: Authenticated,
    *,
    error: AccessError | None = None,
    error_form: str | None = None,
    notice: str = "",
    typed: dict[str, str] | None = None,
) -> Response:
    """The page, with a refusal shown at `error_form` and what was typed there (`typed`,
    never a password or a code) put back."""
    account = auth.account
    hold = account.security_hold_until
    sessions = sorted(
        svc.sessions.list(account.id),
        key=lambda s: (s.id != auth.session.id, -s.last_seen_at.timestamp()),
    )
    password_error = error if error_form == "password" else None
    state = form_state(password_error, "new_password")
    if password_error is not None and password_error.code is ErrorCode.INVALID_CREDENTIALS:
        state["error_field"] = "current_password"
    context: dict[str, Any] = {
        "account": account,
        "hold_until": stamp(hold) if hold and hold > svc.clock.now() else None,
        "hold_length": duration(svc.rules.security_hold_seconds),
        "sessions": [
            {
                "id": s.id,
                "device": device_name(s.user_agent),
                "user_agent": s.user_agent,
                "ip": s.ip,
                "place": place_of(s.ip),
                "created": stamp(s.created_at),
                "last_seen": stamp(s.last_seen_at),
                "current": s.id == auth.session.id,
            }
            for s in sessions
        ],
        "history": [
            {
                "at": stamp(e.at),
                "ip": e.ip,
                "place": place_of(e.ip),
                "device": device_name(e.user_agent),
                "user_agent": e.user_agent,
                "ok": e.outcome == "success",
                "outcome": outcome_words(e.outcome),
            }
            for e in svc.history.sign_ins(account.id)
        ],
        "recovery": recovery_alert(svc, account.id),
        "notice": NOTICES.get(notice),
        "notice_key": notice if notice in NOTICES else "",
        "notice_two_step": notice in TWO_STEP_NOTICES,
        "sms_cooldown": svc.rules.sms_resend_cooldown_seconds,
        # Adding a factor asks for the password again after this (domain/lockout.py).
        "reauth_needed": svc.clock.now() - auth.session.created_at
        > timedelta(seconds=svc.rules.reauth_seconds),
        "error_form": error_form,
        "typed": typed or {},
        **two_step_status(svc, auth),
        **password_rule(svc),
        **state,
        **mfa_form_state(error if error_form != "password" else None),
    }
    return render(request, "pages/account.html", context, error=error, auth=auth)


@router.get("/account")
def account_page(
    request: Request,
    done: str = Query("", max_length=20),
    svc: Services = Depends(services),
) -> Response:
    auth = signed_in(request)
    if auth is None:
        return to_login(request)
    return overview(request, svc, auth, notice=done)


@router.get("/account/password")
def password_form() -> Response:
    return RedirectResponse("/account#password", status_code=303)


@router.get("/account/sessions/{session_id}/revoke")
def sessions_list(session_id: str) -> Response:
    return RedirectResponse("/account#sessions", status_code=303)


@router.post("/account/password")
def change_password(
    request: Request,
    current_password: FormText = "",
    new_password: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    def change(auth: Authenticated) -> Response:
        body = validated(
            ChangePasswordBody, current_password=current_password, new_password=new_password
        )
        svc.passwords.change(auth, body.current_password, body.new_password, client)
        svc.dispatcher_wake()
        return RedirectResponse("/account?done=password#password", status_code=303)

    return account_change(request, svc, csrf_token, "password", change)


@router.post("/account/sessions/{session_id}/revoke")
def revoke_session(
    request: Request,
    session_id: str = Path(max_length=64),
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    def revoke(auth: Authenticated) -> Response:
        svc.sessions.revoke(auth, session_id, client)
        if session_id == auth.session.id:  # not offered on the page, but the API allows it
            response = RedirectResponse("/login?signed_out=true", status_code=303)
            cookies.clear_session(response, svc.settings)
            return response
        return RedirectResponse("/account?done=session#sessions", status_code=303)

    return account_change(request, svc, csrf_token, "sessions", revoke)


@router.get("/account/recovery-request/cancel")
def recovery_request_section() -> Response:
    return RedirectResponse("/account#recovery-request", status_code=303)


@router.post("/account/recovery-request/cancel")
def cancel_recovery_request(
    request: Request,
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    def cancel(auth: Authenticated) -> Response:
        svc.recovery.cancel_own(auth, client)
        svc.dispatcher_wake()
        return RedirectResponse(
            "/account?done=recovery_cancelled#recovery-request", status_code=303
        )

    return account_change(request, svc, csrf_token, "recovery-request", cancel)
