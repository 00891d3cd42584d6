"""State-changing API calls must send JSON: a form posted from another site cannot."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from accessguard.domain.errors import UnsupportedMediaType
from accessguard.web.errors import envelope, request_id_of

_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


class JsonOnlyMiddleware:
    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

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
            if has_body and media_type != b"application/json":
                response = envelope(UnsupportedMediaType(), request_id_of(scope))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
