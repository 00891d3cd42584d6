"""Counters in Redis, shared by every instance: INCR is atomic, expiry rides along.

Every Redis failure becomes ServiceUnavailable: a lockout check that cannot count must refuse
(fail closed) rather than let an attempt through uncounted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import redis

from accessguard.domain.errors import ServiceUnavailable

log = logging.getLogger(__name__)


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        # The type only, as for the database (storage/sql/engine.py): the operator learns
        # which dependency failed; the message could quote a key.
        log.warning("redis unavailable: %s", type(error).__name__)
        raise ServiceUnavailable() from error


class RedisThrottleStore:
    def __init__(self, url: str, *, prefix: str, timeout_seconds: float) -> None:
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=30,
        )
        self._prefix = prefix

    def hit(self, key: str, window_seconds: int, now: datetime) -> int:
        with _mapped(), self._client.pipeline(transaction=True) as pipe:
            full = self._prefix + key
            pipe.incr(full)
            pipe.expire(full, window_seconds, nx=True)
            count, _ = pipe.execute()
        return int(count)

    def count(self, key: str, now: datetime) -> tuple[int, int]:
        full = self._prefix + key
        with _mapped():
            # Most counters read are absent (a sign-in after no failure): one GET answers.
            # A plain command costs a third of the Python a pipeline does.
            value = self._client.get(full)
            if value is None:
                return 0, 0
            ttl = self._client.ttl(full)
        if ttl == -2:  # expired between the two reads
            return 0, 0
        return int(value), max(int(ttl), 1)

    def counts(self, keys: Sequence[str], now: datetime) -> list[int]:
        with _mapped():
            values = self._client.mget([self._prefix + key for key in keys])
        return [0 if value is None else int(value) for value in values]

    def reset(self, key: str) -> None:
        with _mapped():
            self._client.delete(self._prefix + key)

    def ping(self) -> bool:
        with _mapped():
            return bool(self._client.ping())

    def close(self) -> None:
        self._client.close()
