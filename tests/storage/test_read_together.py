"""Reads sent together (storage/together.py): those asked for in one turn of the event loop
go as one request, and each reader gets its own keys' values, its own refusal when the
server fails, or nothing at all once it is cancelled. Sign-in's Redis counters use it
(last test); the session lookups are tested in test_session_reads.py."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import redis

from accessguard.bootstrap import Services
from accessguard.domain.errors import ServiceUnavailable
from accessguard.storage.together import ReadTogether
from tests.storage.test_signin_store import _on_a_loop
from tests.support import REDIS_URL

T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Awaited on a loop of its own thread: the suite's thread may run one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result(timeout=30)


class Redis:
    """Stands in for the MGET: the keys of each request, and what it answers."""

    def __init__(self, stored: dict[str, int], failure: Exception | None = None) -> None:
        self.stored = stored
        self.failure = failure
        self.requests: list[list[str]] = []

    async def mget(self, keys: list[str]) -> list[Any]:
        self.requests.append(keys)
        await asyncio.sleep(0)  # a round trip: the loop turns while it is out
        if self.failure is not None:
            raise self.failure
        return [self.stored.get(key) for key in keys]


def test_reads_asked_in_one_turn_go_as_one_request_each_with_its_own_values() -> None:
    store = Redis({"a": 1, "b": 2, "d": 4})
    reads = ReadTogether(store.mget)

    async def three_readers() -> list[list[Any]]:
        return list(
            await asyncio.gather(reads.read(["a"]), reads.read(["b", "c"]), reads.read(["d"]))
        )

    assert _run(three_readers()) == [[1], [2, None], [4]]
    assert store.requests == [["a", "b", "c", "d"]]


def test_a_read_asked_alone_goes_in_its_own_turn_without_waiting_for_company() -> None:
    store = Redis({"a": 1})
    reads = ReadTogether(store.mget)

    async def one_after_another() -> list[list[Any]]:
        return [await reads.read(["a"]), await reads.read(["a", "b"])]

    assert _run(one_after_another()) == [[1], [1, None]]
    assert store.requests == [["a"], ["a", "b"]]


def test_a_failed_request_refuses_every_reader_with_a_refusal_of_its_own() -> None:
    store = Redis({}, failure=ServiceUnavailable())
    reads = ReadTogether(store.mget)

    async def two_readers() -> list[Any]:
        return list(
            await asyncio.gather(reads.read(["a"]), reads.read(["b"]), return_exceptions=True)
        )

    first, second = _run(two_readers())
    assert isinstance(first, ServiceUnavailable)
    assert isinstance(second, ServiceUnavailable)
    assert first is not second


def test_an_unexpected_error_reaches_every_reader_instead_of_leaving_them_waiting() -> None:
    store = Redis({}, failure=ValueError("not a number"))
    reads = ReadTogether(store.mget)

    async def two_readers() -> list[Any]:
        waiting = asyncio.gather(reads.read(["a"]), reads.read(["b"]), return_exceptions=True)
        return list(await asyncio.wait_for(waiting, timeout=5))

    assert [type(outcome) for outcome in _run(two_readers())] == [ValueError, ValueError]


@pytest.mark.parametrize(
    ("turns_before_it_gives_up", "requests"),
    [(0, [["b"]]), (1, [["a", "b"]])],
    ids=["before the request goes", "while the request is out"],
)
def test_a_cancelled_reader_leaves_the_others_their_values(
    turns_before_it_gives_up: int, requests: list[list[str]]
) -> None:
    store = Redis({"a": 1, "b": 2})
    reads = ReadTogether(store.mget)

    async def one_gives_up() -> list[Any]:
        gone = asyncio.ensure_future(reads.read(["a"]))
        staying = asyncio.ensure_future(reads.read(["b"]))
        for _ in range(turns_before_it_gives_up):
            await asyncio.sleep(0)
        gone.cancel()  # its request ended: the client went away, or its deadline passed
        return [await staying, gone.cancelled()]

    assert _run(one_gives_up()) == [[2], True]
    assert store.requests == requests


def _reads_sent() -> dict[str, int]:
    stats = redis.Redis.from_url(REDIS_URL).info("commandstats")
    return {name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("get", "mget")}


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_sign_ins_reading_counters_together_send_one_mget_to_redis(services: Services) -> None:
    store = services.signin_store
    assert store is not None
    prefix = services.settings.redis_key_prefix
    client = redis.Redis.from_url(REDIS_URL)
    client.set(prefix + "address:192.0.2.1", 3)
    client.set(prefix + "email:ada@example.com", 2)

    async def together() -> list[Any]:
        return list(
            await asyncio.gather(
                store.count("address:192.0.2.1"),
                store.counts(["email:ada@example.com", "address:192.0.2.1"]),
                store.count("address:192.0.2.99"),
            )
        )

    before = _reads_sent()
    assert _on_a_loop(services, together()) == [3, [2, 3], 0]
    after = _reads_sent()
    assert {name: after[name] - before[name] for name in after} == {"get": 0, "mget": 1}
