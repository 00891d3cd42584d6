"""No request hangs: past `seconds` without an answer, the client gets `request_timed_out`.

Every dependency has its own time limit (pool waits, statements, Redis, the SMS gateway), but
not every stall shows up as one: a database host that stops answering on an open connection
(a frozen server, a half-open partition) leaves a worker thread waiting on its socket, and
no statement timeout reaches it because the server never saw the statement. A thread cannot
be stopped from outside, so the work goes on in the background and whatever it sends later
is dropped; the client hears now, and is told to check whether it went through before
trying again (the work may still finish: `service_unavailable` would say nothing changed).
It also bounds a client that sends its body too slowly, so its words blame no one.

A timer per request, not a task: this wraps every request, /me and /healthz included, and a
timer costs a few microseconds where a task and a wait cost several times that.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accessguard.domain.errors import RequestTimedOut
from accessguard.web.errors import request_id_of, respond

log = logging.getLogger("accessguard.request")


class DeadlineMiddleware:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        self._answering: set[asyncio.Task[None]] = set()  # held, or they could be collected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = {"started": False, "given_up": False}

        async def guarded_send(message: Message) -> None:
            if progress["given_up"]:
                return  # the client was answered already; this is the abandoned work's
            if message["type"] == "http.response.start":
                progress["started"] = True
            await send(message)

        timer = asyncio.get_running_loop().call_later(
            self.seconds, self._give_up, scope, send, progress
        )
        try:
            await self.app(scope, receive, guarded_send)
        finally:
            timer.cancel()

    def _give_up(self, scope: Scope, send: Send, progress: dict[str, Any]) -> None:
        if progress["started"]:
            return  # an answer is under way: let it finish
        progress["given_up"] = True
        task = asyncio.ensure_future(self._answer(scope, send))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, scope: Scope, send: Send) -> None:
        # The request's own log line comes only when its work ends, if ever: this one
        # carries the reference the client is shown.
        log.warning(
            "request_id=%s gave up after %.1f s: request_timed_out",
            request_id_of(scope),
            self.seconds,
        )

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        response = respond(Request(scope), RequestTimedOut())
        await response(scope, no_body, send)
