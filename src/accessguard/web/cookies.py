"""Session and known-device cookies: __Host- prefixed, HttpOnly, SameSite=Lax, Path=/."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request, Response

from accessguard.settings import Settings


def session_cookie_name(settings: Settings) -> str:
    # __Host- makes the browser refuse the cookie unless Secure, host-only and Path=/, so a
    # sibling subdomain cannot plant or overwrite it.
    return "__Host-ag_session" if settings.cookie_secure else "ag_session"


def device_cookie_name(settings: Settings) -> str:
    return "__Host-ag_device" if settings.cookie_secure else "ag_device"


def set_session(response: Response, settings: Settings, token: str, expires_at: datetime) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        token,
        expires=expires_at,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def set_device(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        device_cookie_name(settings),
        token,
        max_age=settings.device_max_seconds,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie_name(settings),
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def session_token(request: Request, settings: Settings) -> str | None:
    """Bearer for apps, cookie for browsers; never a URL parameter (it would leak in logs)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(session_cookie_name(settings))


def mfa_cookie_name(settings: Settings) -> str:
    return "__Host-ag_mfa" if settings.cookie_secure else "ag_mfa"


def set_mfa(response: Response, settings: Settings, token: str, max_age: int) -> None:
    """The half-finished sign-in of a browser: never in the page, so the HTML holds no
    secret, and Strict, since only our own /login/mfa form sends it back."""
    response.set_cookie(
        mfa_cookie_name(settings),
        token,
        max_age=max_age,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_mfa(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        mfa_cookie_name(settings),
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
