"""Our cookies (session, known device, half-finished sign-in, what a form's answer page
shows): __Host- prefixed, HttpOnly, Path=/, SameSite=Lax (Strict for the last two)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from fastapi import Request, Response

from accessguard.settings import Settings


def session_cookie_name(settings: Settings) -> str:
    # __Host- makes the browser refuse the cookie unless Secure, host-only and Path=/, so a
    # sibling subdomain cannot plant or overwrite it.
    return "__Host-ag_session" if settings.cookie_secure else "ag_session"


def device_cookie_name(settings: Settings) -> str:
    return "__Host-ag_device" if settings.cookie_secure else "ag_device"


def _options(settings: Settings, samesite: Literal["lax", "strict"] = "lax") -> dict[str, Any]:
    # Every cookie of ours: host-only, whole site, Secure when configured, out of reach of JS.
    return {"path": "/", "secure": settings.cookie_secure, "httponly": True, "samesite": samesite}


def _hand_out(response: Response, name: str, token: str, **options: Any) -> None:
    # An answer that hands out a token is never stored by a browser or a shared cache, page
    # redirects included (the API's answers say so already).
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(name, token, **options)


def set_session(response: Response, settings: Settings, token: str, expires_at: datetime) -> None:
    _hand_out(
        response, session_cookie_name(settings), token, expires=expires_at, **_options(settings)
    )


def set_device(response: Response, settings: Settings, token: str) -> None:
    _hand_out(
        response,
        device_cookie_name(settings),
        token,
        max_age=settings.device_max_seconds,
        **_options(settings),
    )


def clear_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(session_cookie_name(settings), **_options(settings))


def session_token(request: Request, settings: Settings) -> str | None:
    """Bearer for apps, cookie for browsers; never a URL parameter (it would leak in logs)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(session_cookie_name(settings))


def device_token(request: Request, settings: Settings, sent: str | None = None) -> str | None:
    """The known-device token an app sent in the body, else the browser's cookie."""
    return sent or request.cookies.get(device_cookie_name(settings))


def mfa_cookie_name(settings: Settings) -> str:
    return "__Host-ag_mfa" if settings.cookie_secure else "ag_mfa"


def set_mfa(response: Response, settings: Settings, token: str, max_age: int) -> None:
    """The half-finished sign-in of a browser: never in the page, so the HTML holds no
    secret, and Strict, since only our own /login/mfa form sends it back."""
    _hand_out(
        response, mfa_cookie_name(settings), token, max_age=max_age, **_options(settings, "strict")
    )


def clear_mfa(response: Response, settings: Settings) -> None:
    response.delete_cookie(mfa_cookie_name(settings), **_options(settings, "strict"))


CARRIED_SECONDS = 3600


def carried_cookie_name(settings: Settings, page: str) -> str:
    return f"__Host-ag_{page}" if settings.cookie_secure else f"ag_{page}"


def carry(response: Response, settings: Settings, page: str, facts: Mapping[str, str]) -> None:
    """What a form's answer page shows ("Check your email", "Request received"), for the
    address the form redirects to, so that reloading that page sends nothing again. Never in
    the URL (an address would reach logs and history); Strict, for an hour, as base64 JSON
    (an address may hold characters a cookie may not)."""
    value = base64.urlsafe_b64encode(json.dumps(dict(facts)).encode()).decode()
    _hand_out(
        response,
        carried_cookie_name(settings, page),
        value,
        max_age=CARRIED_SECONDS,
        **_options(settings, "strict"),
    )


def carried(request: Request, settings: Settings, page: str) -> dict[str, str] | None:
    """What `carry` left for `page`; None when absent or not as it was written."""
    value = request.cookies.get(carried_cookie_name(settings, page), "")
    try:
        facts = json.loads(base64.urlsafe_b64decode(value.encode())) if value else None
    except (ValueError, UnicodeError):
        return None
    if not isinstance(facts, dict):
        return None
    good = all(
        isinstance(fact, str) and len(fact) <= 320 and fact.isprintable() for fact in facts.values()
    )
    return facts if good else None
