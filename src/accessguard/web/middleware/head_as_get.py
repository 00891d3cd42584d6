"""HEAD is GET without the body (RFC 9110 §9.3.2), on every path: load balancers, uptime
monitors and link checkers probe pages and the status page with it. FastAPI routes only the
methods they name, so HEAD would otherwise be a 405 everywhere. Every GET here is safe (a
page opened from an email spends no token), so answering HEAD through it changes nothing."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            # Status and headers as GET's, Content-Length included; the body is not sent.
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
