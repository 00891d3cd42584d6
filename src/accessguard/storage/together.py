"""Reads asked for in one turn of the event loop, sent to the server together.

Under load, requests come to the event loop in groups: the hashing threads hand results back
a few at a time (domain/hashing.py), so the sign-ins they free each read their counters at
once, and the requests that arrive together each look up their session. Sent one by one,
each read costs the loop a round trip (about 90 µs of redis-py for a counter) and the
server a wake-up; sent together, the group pays that once (docs/performance.md, session
27). A read waits for nothing but the end of the loop's current turn, so one asked for
alone goes as it always did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from accessguard.domain.errors import ServiceUnavailable

# A read's keys, and the future its values go to.
_Waiting = tuple[list[Any], "asyncio.Future[list[Any]]"]


class ReadTogether:
    """The reads one event loop has asked for and not yet sent, and `fetch`, which reads many
    keys in one request and answers their values in the same order."""

    def __init__(self, fetch: Callable[[list[Any]], Awaitable[list[Any]]]) -> None:
        self._fetch = fetch
        self._waiting: list[_Waiting] = []
        # Held until done: the loop keeps only a weak reference to a task.
        self._sending: set[asyncio.Task[None]] = set()

    def read(self, keys: list[Any]) -> asyncio.Future[list[Any]]:
        """The keys' values, in order."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Any]] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send_waiting)
        self._waiting.append((keys, answer))
        return answer

    def _send_waiting(self) -> None:
        # A read whose request was cancelled meanwhile (client gone, deadline) is left out.
        batch = [(keys, answer) for keys, answer in self._waiting if not answer.done()]
        self._waiting = []
        if batch:
            task = asyncio.get_running_loop().create_task(self._read_together(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _read_together(self, batch: list[_Waiting]) -> None:
        try:
            values = await self._fetch([key for keys, _ in batch for key in keys])
        except ServiceUnavailable:
            # Each reader fails closed with a refusal of its own (`fetch` logged why): one
            # raised in many tasks would gather all their tracebacks.
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(ServiceUnavailable())
            return
        except asyncio.CancelledError:
            for _, answer in batch:
                answer.cancel()
            raise
        except Exception as error:  # noqa: BLE001 - handed to every reader, as if it were its own
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(error)
            return
        start = 0
        for keys, answer in batch:
            if not answer.done():
                answer.set_result(values[start : start + len(keys)])
            start += len(keys)
