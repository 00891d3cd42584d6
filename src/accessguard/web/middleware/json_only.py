"""State-changing API calls must send JSON, and a browser's must come from one of our pages.

A form posted from another site cannot send JSON; a body-less POST (sign-out, starting an
authenticator set-up) can, and SameSite=Lax lets the session cookie ride along from a
sibling subdomain. So such a call is refused when the browser says it came from another
site, unless it carries its own `Authorization` (a token no other site can add).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from accessguard.domain.errors import AccessError, CsrfFailed, UnsupportedMediaType
from accessguard.web.errors import envelope, request_id_of
from accessguard.web.origin import from_another_site

_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


class JsonOnlyMiddleware:
    def __init__(self, app: ASGIApp, *, public_origin: str, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix
        self.public_origin = public_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _CHANGING
            and scope["path"].startswith(self.prefix)
        ):
            headers = dict(scope["headers"])
            has_body = headers.get(b"content-length", b"0") != b"0" or (
                b"transfer-encoding" in headers
            )
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            refusal: AccessError | None = None
            if has_body and media_type != b"application/json":
                refusal = UnsupportedMediaType()
            elif b"authorization" not in headers and self._from_another_site(headers):
                refusal = CsrfFailed()
            if refusal is not None:
                response = envelope(refusal, request_id_of(scope))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _from_another_site(self, headers: dict[bytes, bytes]) -> bool:
        said = {
            name.decode("latin-1"): headers[name].decode("latin-1")
            for name in (b"sec-fetch-site", b"origin")
            if name in headers
        }
        host = headers.get(b"host", b"").decode("latin-1")
        return from_another_site(said, host, self.public_origin)
