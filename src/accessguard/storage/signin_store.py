"""Sign-in's statements and counters awaited on the event loop: PostgreSQL through asyncpg,
counters through Redis's asyncio client (domain/ports_async.py says why).

The statements are the synchronous repositories' own SQLAlchemy objects, compiled once for
asyncpg, and the rows a sign-in adds go out as one statement of data-modifying CTEs, as the
unit of work sends them (storage/sql/held_writes.py): the two paths cannot drift apart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import redis
import redis.asyncio
import sqlalchemy as sa

from accessguard.domain.errors import ServiceUnavailable
from accessguard.domain.model import (
    Account,
    AttemptFromDevice,
    AuditEvent,
    Device,
    LockState,
    SecondFactors,
    Session,
)
from accessguard.domain.ports_async import SignInWrites
from accessguard.storage.sql.accounts import (
    FOR_PASSWORD_ATTEMPT,
    FOR_PASSWORD_ATTEMPT_FROM_DEVICE,
    INSERT_DEVICE,
    INSERT_SESSION,
    TOUCH_DEVICE,
    attempt_from_device_from,
    device_values,
    password_attempt_from,
    session_values,
)
from accessguard.storage.sql.held_writes import Held, as_one_where
from accessguard.storage.sql.security import RECORD_EVENT, event_values
from accessguard.storage.sql.session_reads import ASYNCPG, AsyncpgSessionReads
from accessguard.storage.sql.tables import lockouts
from accessguard.storage.together import ReadTogether

log = logging.getLogger(__name__)
T = TypeVar("T")

_FOR_PASSWORD_ATTEMPT = FOR_PASSWORD_ATTEMPT.compiled(ASYNCPG)
_FROM_DEVICE = FOR_PASSWORD_ATTEMPT_FROM_DEVICE.compiled(ASYNCPG)
# Every lock, unlock and reset moves a subject's generation (LockState), so an unchanged one
# means an unchanged lock; no row reads as generation 0, and any row differs from that.
_LOCK_AS_READ = ~sa.exists().where(
    lockouts.c.subject == sa.bindparam("lock_subject"),
    lockouts.c.generation != sa.bindparam("lock_generation"),
)


class HeldRows:
    """`SignInWrites` that only collect: each new row is held, to be sent as one statement."""

    def __init__(self) -> None:
        self.held: Held = []
        self.sessions = _NewSessions(self.held)
        self.devices = _NewDevices(self.held)
        self.audit = _NewAuditRows(self.held)


class _NewSessions:
    def __init__(self, held: Held) -> None:
        self._held = held

    def add(self, session: Session, token_digest: str) -> None:
        self._held.append((INSERT_SESSION, session_values(session, token_digest)))


class _NewDevices:
    def __init__(self, held: Held) -> None:
        self._held = held

    def add(self, device: Device, token_digest: str) -> None:
        self._held.append((INSERT_DEVICE, device_values(device, token_digest)))

    def touch(self, device_id: str, at: datetime) -> None:
        self._held.append((TOUCH_DEVICE, {"device_id": device_id, "at": at}))


class _NewAuditRows:
    def __init__(self, held: Held) -> None:
        self._held = held

    def record(self, event: AuditEvent) -> None:
        self._held.append((RECORD_EVENT, event_values(event)))


class PostgresRedisSignInStore:
    """`SignInStore` on the asyncpg pool of the session reads and an asyncio Redis client.

    A Redis client's connections belong to the event loop that opened them, so there is one
    client per running loop, as there is one asyncpg pool per loop."""

    def __init__(
        self, reads: AsyncpgSessionReads, redis_url: str, *, prefix: str, timeout_seconds: float
    ) -> None:
        self._reads = reads
        self._redis_url = redis_url
        self._prefix = prefix
        self._timeout = timeout_seconds
        self._clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}
        self._counter_reads: dict[asyncio.AbstractEventLoop, ReadTogether] = {}

    def _redis(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # No socket timeout (the client's default is 5 s): with one, the client sends
            # each command through `asyncio.wait_for`, which on Python 3.11 starts a task
            # per command, a cost every sign-in paid twice. `_answer` bounds the whole
            # command instead.
            client = self._clients[loop] = redis.asyncio.Redis.from_url(
                self._redis_url,
                socket_timeout=None,
                socket_connect_timeout=self._timeout,
                health_check_interval=30,
            )
        return client

    async def _answer(self, command: Awaitable[T]) -> T:
        """The command's reply within the time limit; a failure or a timeout is
        `service_unavailable` (fail closed). A command cut off by the limit drops its
        connection (the client closes one interrupted mid-command), so no later command
        reads the late reply."""
        try:
            async with asyncio.timeout(self._timeout):
                return await command
        except (redis.RedisError, OSError) as error:  # TimeoutError is an OSError
            # The type only, as for the synchronous client (storage/redis/throttle.py).
            log.warning("redis unavailable: %s", type(error).__name__)
            raise ServiceUnavailable() from error

    async def count(self, key: str) -> int:
        return (await self.counts([key]))[0]

    async def counts(self, keys: Sequence[str]) -> list[int]:
        # The reads of one turn of the loop go as one MGET: the hashing threads free sign-ins
        # a few at a time, and each read its counters at once (storage/together.py).
        loop = asyncio.get_running_loop()
        reads = self._counter_reads.get(loop)
        if reads is None:
            reads = self._counter_reads[loop] = ReadTogether(self._values)
        values = await reads.read([self._prefix + key for key in keys])
        return [0 if value is None else int(value) for value in values]

    async def _values(self, keys: list[str]) -> list[Any]:
        return await self._answer(self._redis().mget(keys))

    async def reset(self, key: str) -> None:
        await self._answer(self._redis().delete(self._prefix + key))

    async def for_password_attempt(
        self, email_key: str, lock_subject: str
    ) -> tuple[Account | None, SecondFactors, LockState]:
        record = await self._reads.first(
            _FOR_PASSWORD_ATTEMPT, {"email_key": email_key, "subject": lock_subject}
        )
        return password_attempt_from(_FOR_PASSWORD_ATTEMPT.row(record))

    async def for_password_attempt_from_device(
        self, email_key: str, lock_subject: str, token_digest: str
    ) -> AttemptFromDevice:
        values = {"email_key": email_key, "subject": lock_subject, "token_digest": token_digest}
        return attempt_from_device_from(
            _FROM_DEVICE.row(await self._reads.first(_FROM_DEVICE, values))
        )

    async def write_if_lock_is(
        self, subject: str, lock: LockState, fill: Callable[[SignInWrites], T]
    ) -> T | None:
        rows = HeldRows()
        result = fill(rows)
        statement, values = as_one_where(
            rows.held,
            _LOCK_AS_READ,
            {"lock_subject": subject, "lock_generation": lock.generation},
        )
        written = await self._reads.first(statement.compiled(ASYNCPG), values)
        return None if written is None else result

    async def aclose(self) -> None:
        self._counter_reads.pop(asyncio.get_running_loop(), None)
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        """Forget the clients no `aclose` closed: their connections end with their loops."""
        self._clients.clear()
        self._counter_reads.clear()
