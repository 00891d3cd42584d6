"""What every page shares: rendering with a CSRF token, the signed-in check, safe redirects.

CSRF uses OWASP's signed double-submit cookie: a random value in a SameSite cookie, and in
each form the value signed with the server's key together with the session the page was
shown to. A form posted from another site has neither; one made for another session (say a
token an attacker got on their own visit, planted with a cookie of theirs) does not match;
and what the browser says of where a request comes from must be one of our origins
(web/origin.py).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Form, Request, Response

from accessguard.bootstrap import Services
from accessguard.domain.errors import AccessError, CsrfFailed
from accessguard.domain.sessions import Authenticated
from accessguard.domain.tokens import digest
from accessguard.web.cookies import session_cookie_name, session_token
from accessguard.web.errors import request_id_of
from accessguard.web.origin import from_another_site, origin_of
from accessguard.web.templating import templates

# A form field as typed, bounded by the body limit only. FastAPI's own checks (`max_length=`)
# would refuse before the handler runs, with a bare error page (or JSON) instead of the form:
# the handler validates, and a refusal comes back beside the field (`field_words`).
FormText = Annotated[str, Form()]
NEXT_MAX = 2000


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def csrf_cookie_name(request: Request) -> str:
    return "__Host-ag_csrf" if _services(request).settings.cookie_secure else "ag_csrf"


def _csrf_value(request: Request, cookie_value: str) -> str:
    """What a form's token signs: the CSRF cookie's value and the session cookie as sent.

    The session enters as a digest under its own label: the page's HTML may be saved or
    cached, and must not carry the session token, nor the digest stored in the database.
    A purpose prefix keeps these signatures apart from the device cookies' (same key).
    """
    session = request.cookies.get(session_cookie_name(_services(request).settings))
    bound = digest("csrf-session:" + session)[:32] if session else "none"
    return f"csrf|{bound}|{cookie_value}"


def check_csrf(request: Request, form_token: str, *, session_bound: bool = True) -> None:
    """`session_bound=False` for the forms used before there is a session (sign-in, sign-up,
    links from emails, the second step, lost-device requests): a session begun in another tab
    meanwhile must not turn them into "form expired", and there is no session of theirs for
    an attacker to ride. Forms that act on a session stay bound to it."""
    settings = _services(request).settings
    host = request.headers.get("host", request.url.netloc)
    if from_another_site(request.headers, host, origin_of(settings.public_url)):
        raise CsrfFailed()
    cookie = request.cookies.get(csrf_cookie_name(request), "")
    signed_value = _services(request).device_signer.unsign(form_token) if form_token else None
    if not cookie or signed_value is None:
        raise CsrfFailed()
    if session_bound:
        expected, presented = _csrf_value(request, cookie), signed_value
    else:
        label, _, rest = signed_value.partition("|")
        expected, presented = cookie, rest.partition("|")[2] if label == "csrf" else ""
    # Bytes: a str comparison raises on non-ASCII text, and a cookie can hold any.
    if not hmac.compare_digest(
        presented.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    ):
        raise CsrfFailed()


def signed_in(request: Request) -> Authenticated | None:
    token = session_token(request, _services(request).settings)
    if not token:
        return None
    try:
        return _services(request).sessions.authenticate(token)
    except AccessError:
        return None


def local_path(target: str | None, default: str = "/account") -> str:
    """Only paths on this site: no scheme, no host, no `//evil` or `/\\evil` (open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if len(target) > NEXT_MAX:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    error: AccessError | None = None,
    auth: Authenticated | None = None,
) -> Response:
    settings = _services(request).settings
    cookie_value = request.cookies.get(csrf_cookie_name(request)) or secrets.token_urlsafe(32)
    values: dict[str, Any] = {
        "csrf_token": _services(request).device_signer.sign(_csrf_value(request, cookie_value)),
        "signed_in": auth is not None,
        "auth": auth,
        "error": error,
        "entry": error.entry if error else None,
        "reference": request_id_of(request.scope) if error else None,
        **(context or {}),
    }
    response = templates.TemplateResponse(
        request,
        template,
        values,
        status_code=error.entry.status if error else status_code,
        headers={"Cache-Control": "no-store"},
    )
    if error is not None and error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    response.set_cookie(
        csrf_cookie_name(request),
        cookie_value,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )
    return response
