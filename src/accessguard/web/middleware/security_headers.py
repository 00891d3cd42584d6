"""Headers every answer carries: a strict CSP, no sniffing, no framing, no referrer; HSTS
when served over TLS; no-store on every API answer and probe; a year's caching for
versioned static files."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accessguard.web.templating import static_url

# No 'unsafe-inline' anywhere: every script and style is a file from this origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


TOKEN_PAGES = frozenset({"/reset-password", "/verify-email", "/recover/cancel"})


def _defaults(referrer_policy: str) -> tuple[tuple[bytes, bytes], ...]:
    """Each header as a lower-case raw pair, set unless the answer already has it."""
    return tuple(
        (name.lower().encode(), value.encode())
        for name, value in (
            ("Content-Security-Policy", CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", referrer_policy),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        )
    )


# A year, this host only: subdomains may belong to other services of the customer's.
HSTS = (b"strict-transport-security", b"max-age=31536000")
# API answers carry personal data (sessions, addresses, history) or tokens: never stored.
# Nor are probes' answers, or a cache would report the service up after it went down.
NO_STORE = (b"cache-control", b"no-store")
NOT_STORED = frozenset({"/healthz", "/readyz", "/openapi.json"})
# `?v=` is the file's content hash (templating.static_url): that URL never changes content.
IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")
# Any other static URL is checked again each time (its ETag makes that cheap).
REVALIDATE = (b"cache-control", b"no-cache")
_STATIC_NAME = re.compile(r"/static/([A-Za-z0-9][A-Za-z0-9._-]*)")


def _versioned(path: str, query: bytes) -> bool:
    """Whether the URL is the one the pages use now, its hash that of the file served: in a
    rolling upgrade an old instance must not have its file kept a year under a new hash."""
    name = _STATIC_NAME.fullmatch(path)
    if name is None or not query.startswith(b"v="):
        return False
    try:
        return static_url(name.group(1)) == f"{path}?{query.decode('ascii', 'replace')}"
    except OSError:  # no such file: a 404, stored by nobody
        return False


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https_only: bool = False) -> None:
        """`https_only` (Secure cookies, i.e. served over TLS) adds HSTS to every answer."""
        self.app = app
        extra = (HSTS,) if https_only else ()
        self._for_token_pages = _defaults("no-referrer") + extra
        self._for_pages = _defaults("same-origin") + extra
        self._for_api = (*self._for_pages, NO_STORE)
        self._for_versioned_static = (*self._for_pages, IMMUTABLE)
        self._for_static = (*self._for_pages, REVALIDATE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # Pages with a token in their URL never leak it in a Referer; elsewhere the referrer
        # stays on this site (and browsers keep sending a real Origin).
        path = scope["path"]
        if path.startswith("/api/") or path in NOT_STORED:
            defaults = self._for_api
        elif path.startswith("/static/"):
            versioned = _versioned(path, scope.get("query_string", b""))
            defaults = self._for_versioned_static if versioned else self._for_static
        elif path in TOKEN_PAGES:
            defaults = self._for_token_pages
        else:
            defaults = self._for_pages

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Raw header pairs, not MutableHeaders: this runs on every answer, and five
                # setdefault calls cost more than the rest of this middleware.
                headers = message["headers"] = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in defaults if pair[0] not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)
