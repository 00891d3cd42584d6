"""Refuse bodies over the contract's 64 KiB before any of them is parsed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accessguard.domain.errors import AccessError, PayloadTooLarge, ValidationFailed
from accessguard.web.errors import respond

MAX_BODY_BYTES = 64 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        refusal: AccessError | None = None
        if declared is not None and not declared.isdigit():
            refusal = ValidationFailed(
                fields=[{"field": "header.content-length", "message": "not a number"}]
            )
        elif declared is not None and int(declared) > self.max_bytes:
            refusal = PayloadTooLarge()
        if refusal is not None:
            # A page's form gets a page (the person pressed a button), the API the envelope.
            await respond(Request(scope), refusal)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            # Chunked bodies declare no length: count what actually arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge()
            return message

        await self.app(scope, limited_receive, send)
