"""The sender: claims due outbox rows, delivers them, and records sent, retry or abandoned.
Rows of the `request` channel are not sent but carried out by their handler (domain/deferred.py).

A claim takes one row, counts the attempt and pushes `next_attempt_at` a lease ahead, then
commits; the send happens outside any transaction. Should the process die mid-send, the row
is due again when the lease runs out, with that attempt counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import jinja2
import sqlalchemy as sa

from accessguard.domain import deferred
from accessguard.domain.errors import AccessError, SmsDeliveryFailed
from accessguard.domain.model import Message
from accessguard.domain.ports import Clock, SecretBox
from accessguard.notify.channels import Channel, DeliveryFailed
from accessguard.notify.render import Renderer
from accessguard.storage.sql.outbox import opened_data
from accessguard.storage.sql.tables import outbox

log = logging.getLogger(__name__)

# Longer than one send can take: every SMTP step and HTTP phase has its own time limit.
DEFAULT_LEASE = timedelta(minutes=5)
_REDACTED = {"redacted": True}

Outcome = Literal["sent", "retried", "abandoned"]


def backoff(attempts: int) -> timedelta:
    """The wait after a failed attempt: 10 s, 20 s, 40 s, … at most an hour."""
    return timedelta(seconds=min(5 * 2**attempts, 3600))


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    retried: int = 0
    abandoned: int = 0


@dataclass(frozen=True)
class _Failure:
    reason: str  # short, with no address or content in it
    permanent: bool = False  # refused for good: not tried again


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int  # this one included
    message: Message
    unreadable: str | None = None


class Dispatcher:
    def __init__(
        self,
        engine: sa.Engine,
        channels: Mapping[str, Channel],
        renderer: Renderer,
        clock: Clock,
        *,
        max_attempts: int,
        lease: timedelta = DEFAULT_LEASE,
        box: SecretBox | None = None,
    ) -> None:
        self._engine = engine
        self._box = box  # opens what storage/sql/outbox.py sealed
        self._channels = channels
        self._renderer = renderer
        self._clock = clock
        self._max_attempts = max_attempts
        self._lease = lease
        self._handlers: dict[str, deferred.Handler] = {}

    def carry_out(self, kind: str, handler: deferred.Handler) -> None:
        """Queued requests of `kind` are carried out by `handler` (domain/deferred.py)."""
        self._handlers[kind] = handler

    def run_once(
        self, limit: int = 50, keep_going: Callable[[], bool] = lambda: True
    ) -> DispatchReport:
        """Send up to `limit` due messages, one claim each, while `keep_going()` says so (a
        process shutting down stops between messages, not after a batch of time-outs)."""
        outcomes: Counter[Outcome] = Counter()
        for _ in range(limit):
            if not keep_going():
                break
            claimed = self._claim()
            if claimed is None:
                break
            if claimed.attempts > self._max_attempts:
                # Earlier claims died before recording; a message that crashes us is not retried.
                outcomes[self._record(claimed, _Failure("interrupted too often"))] += 1
            else:
                outcomes[self._record(claimed, self._deliver(claimed))] += 1
        return DispatchReport(outcomes["sent"], outcomes["retried"], outcomes["abandoned"])

    def deliver_immediately(self, message: Message) -> None:
        """Send now, bypassing the queue (SMS codes); raises `SmsDeliveryFailed`."""
        try:
            self._channels[message.channel].send(message.to, self._renderer.render(message))
        except DeliveryFailed as error:
            raise SmsDeliveryFailed() from error

    def _claim(self) -> _Claimed | None:
        now = self._clock.now()
        query = (
            sa.select(outbox)
            .where(outbox.c.status == "queued", outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(1)
        )
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Skip rows another instance is claiming rather than wait and then send them too.
                # SQLite needs nothing: its transactions begin IMMEDIATE, one writer at a time.
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            conn.execute(
                outbox.update()
                .where(outbox.c.id == row["id"])
                .values(attempts=outbox.c.attempts + 1, next_attempt_at=now + self._lease)
            )
        try:
            data = opened_data(row["payload"], self._box)
            unreadable = None
        except (ValueError, TypeError) as error:
            # A key taken out of SECRET_KEYS while messages it sealed were queued: tried
            # again (the key may come back) until abandoned, and said so in the log.
            data, unreadable = {}, f"payload unreadable: {error}"
        message = Message(
            channel=row["channel"],
            to=row["recipient"],
            template=row["template"],
            data=data,
            account_id=row["account_id"],
        )
        return _Claimed(row["id"], row["attempts"] + 1, message, unreadable)

    def _deliver(self, claimed: _Claimed) -> _Failure | None:
        """None when sent, else why not."""
        if claimed.unreadable is not None:
            return _Failure(claimed.unreadable)
        message = claimed.message
        if message.channel == deferred.CHANNEL:
            return self._carry_out(claimed)
        channel = self._channels.get(message.channel)
        if channel is None:
            return _Failure(f"no channel {message.channel!r}")
        try:
            channel.send(message.to, self._renderer.render(message))
        except DeliveryFailed as error:
            return _Failure(error.reason, error.permanent)
        except jinja2.TemplateError as error:
            return _Failure(f"template {message.template!r}: {type(error).__name__}")
        except Exception as error:  # noqa: BLE001 - counted as a failed attempt, not a stuck row
            # The type only: an exception's text may quote the address or the message.
            log.error("outbox message %d: unexpected %s", claimed.id, type(error).__name__)
            return _Failure(f"unexpected {type(error).__name__}")
        return None

    def _carry_out(self, claimed: _Claimed) -> _Failure | None:
        handler = self._handlers.get(claimed.message.template)
        if handler is None:
            return _Failure(f"no handler for {claimed.message.template!r}")
        try:
            handler(deferred.asked(claimed.message))
        except AccessError as error:  # the database or Redis away: tried again later
            return _Failure(error.code.value)
        except Exception as error:  # noqa: BLE001 - counted as a failed attempt, not a stuck row
            log.error("outbox request %d: unexpected %s", claimed.id, type(error).__name__)
            return _Failure(f"unexpected {type(error).__name__}")
        return None

    def _record(self, claimed: _Claimed, failure: _Failure | None) -> Outcome:
        now = self._clock.now()
        values: dict[str, Any]
        outcome: Outcome
        if failure is None:
            outcome = "sent"
            values = {"status": "sent", "sent_at": now, "payload": _REDACTED, "last_error": None}
            if claimed.attempts > 1:
                done = "carried out" if claimed.message.channel == deferred.CHANNEL else "sent"
                log.info(
                    "outbox message %d (%s) %s at attempt %d",
                    claimed.id,
                    claimed.message.template,
                    done,
                    claimed.attempts,
                )
        elif failure.permanent or claimed.attempts >= self._max_attempts:
            outcome = "abandoned"
            values = {
                "status": "abandoned",
                "payload": _REDACTED,
                "last_error": failure.reason[:300],
            }
            log.error(
                "outbox message %d (%s) abandoned after %d attempts%s: %s",
                claimed.id,
                claimed.message.template,
                claimed.attempts,
                ", refused for good" if failure.permanent else "",
                failure.reason,
            )
        else:
            outcome = "retried"
            wait = backoff(claimed.attempts)
            values = {"next_attempt_at": now + wait, "last_error": failure.reason[:300]}
            log.warning(
                "outbox message %d (%s) attempt %d of %d failed, next in %d s: %s",
                claimed.id,
                claimed.message.template,
                claimed.attempts,
                self._max_attempts,
                wait.total_seconds(),
                failure.reason,
            )
        with self._engine.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == claimed.id).values(values))
        return outcome
