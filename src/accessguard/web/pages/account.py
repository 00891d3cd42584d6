"""/account: the signed-in customer's security overview, on the same use cases as /api/v1/me.

Every change is a form POST answered with a redirect back to the page (reloading never sends
it twice); a refused one re-renders the page with the refusal next to the form it concerns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from accessguard.bootstrap import Services
from accessguard.domain.catalogue import CATALOGUE
from accessguard.domain.errors import AccessError, ErrorCode
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.web import cookies
from accessguard.web.api.v1.schemas import ChangePasswordBody
from accessguard.web.client import client_info
from accessguard.web.deps import services
from accessguard.web.geo import place_of
from accessguard.web.pages.accounts import (
    CsrfField,
    PasswordField,
    duration,
    form_state,
    password_rule,
    validated,
)
from accessguard.web.pages.common import check_csrf, render, signed_in

router = APIRouter(include_in_schema=False)

# Only these fixed texts can appear, whatever ?done= says: nothing from the URL is echoed.
NOTICES = {
    "password": "Your password is changed. Your other sessions were signed out; "
    "this one stays signed in.",
    "session": "That session is signed out.",
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
    try:
        return CATALOGUE[ErrorCode(outcome)].message
    except (ValueError, KeyError):
        return outcome.replace("_", " ").capitalize()


def stamp(moment: datetime) -> dict[str, str]:
    return {
        "iso": moment.isoformat(timespec="seconds"),
        "text": moment.strftime("%Y-%m-%d %H:%M UTC"),
    }


def _to_login() -> Response:
    return RedirectResponse("/login?next=/account", status_code=303)


def _overview(
    request: Request,
    svc: Services,
    auth: Authenticated,
    *,
    error: AccessError | None = None,
    error_form: str | None = None,
    notice: str = "",
) -> Response:
    account = auth.account
    hold = account.security_hold_until
    sessions = sorted(
        svc.sessions.list(account.id),
        key=lambda s: (s.id != auth.session.id, -s.last_seen_at.timestamp()),
    )
    state = form_state(error, "new_password")
    if error is not None and error.code is ErrorCode.INVALID_CREDENTIALS:
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
        "notice": NOTICES.get(notice),
        "error_form": error_form,
        **password_rule(svc),
        **state,
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
        return _to_login()
    return _overview(request, svc, auth, notice=done)


@router.post("/account/password")
def change_password(
    request: Request,
    current_password: PasswordField = "",
    new_password: PasswordField = "",
    csrf_token: CsrfField = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    auth = signed_in(request)
    if auth is None:
        return _to_login()
    try:
        check_csrf(request, csrf_token)
        body = validated(
            ChangePasswordBody, current_password=current_password, new_password=new_password
        )
        svc.passwords.change(auth, body.current_password, body.new_password, client)
    except AccessError as error:
        return _overview(request, svc, auth, error=error, error_form="password")
    svc.dispatcher_wake()
    return RedirectResponse("/account?done=password#password", status_code=303)


@router.post("/account/sessions/{session_id}/revoke")
def revoke_session(
    request: Request,
    session_id: str = Path(max_length=64),
    csrf_token: CsrfField = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    auth = signed_in(request)
    if auth is None:
        return _to_login()
    try:
        check_csrf(request, csrf_token)
        svc.sessions.revoke(auth, session_id, client)
    except AccessError as error:
        return _overview(request, svc, auth, error=error, error_form="sessions")
    if session_id == auth.session.id:  # not offered on the page, but the API allows it too
        response = RedirectResponse("/login?signed_out=true", status_code=303)
        cookies.clear_session(response, svc.settings)
        return response
    return RedirectResponse("/account?done=session#sessions", status_code=303)
