"""Our cookies (session, known device, half-finished sign-in, the address just signed up
with): __Host- prefixed, HttpOnly, Path=/, SameSite=Lax (Strict for the last two)."""

from __future__ import annotations

import base64
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


def registered_cookie_name(settings: Settings) -> str:
    return "__Host-ag_registered" if settings.cookie_secure else "ag_registered"


REGISTERED_SECONDS = 3600


def set_registered(response: Response, settings: Settings, email: str) -> None:
    """The address just signed up with, for the "Check your email" page the sign-up redirects
    to: never in the URL (it would reach logs), Strict, and base64 (an address may hold
    characters a cookie may not)."""
    value = base64.urlsafe_b64encode(email.encode()).decode()
    _hand_out(
        response,
        registered_cookie_name(settings),
        value,
        max_age=REGISTERED_SECONDS,
        **_options(settings, "strict"),
    )


def registered_email(request: Request, settings: Settings) -> str | None:
    value = request.cookies.get(registered_cookie_name(settings), "")
    try:
        email = base64.urlsafe_b64decode(value.encode()).decode() if value else ""
    except (ValueError, UnicodeError):
        return None
    return email if 0 < len(email) <= 320 and email.isprintable() else None
