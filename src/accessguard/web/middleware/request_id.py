"""A reference per request: in the X-Request-ID header, every error body and the log line."""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("accessguard.request")


def _printable(path: str) -> str:
    """The path as one safe field: a decoded %0d%0a would forge log lines, a space a field,
    a NUL break tools. Percent-encoded again where needed; a plain path is left as it is."""
    return quote(path, safe=_PATH_SAFE)


_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Our own id, never one the client sends: a reference must be unique and unforgeable.
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # The path only: query strings can carry tokens (/reset-password?token=…).
            log.info(
                "request_id=%s method=%s path=%s status=%s ms=%.1f",
                request_id,
                scope["method"],
                _printable(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
            )
