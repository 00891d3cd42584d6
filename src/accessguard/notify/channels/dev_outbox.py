"""Development delivery: messages land in the `dev_mailbox` table, shown at /dev/outbox."""

from __future__ import annotations

import sqlalchemy as sa

from accessguard.domain.ports import Clock
from accessguard.notify.channels import DeliveryFailed
from accessguard.notify.render import Rendered
from accessguard.storage.sql.tables import dev_mailbox


class DevOutboxChannel:
    def __init__(self, engine: sa.Engine, clock: Clock, *, channel: str) -> None:
        self._engine = engine
        self._clock = clock
        self._channel = channel

    def send(self, recipient: str, rendered: Rendered) -> None:
        row = {
            "channel": self._channel,
            "recipient": recipient,
            "subject": rendered.subject,
            "body": rendered.text,
            "created_at": self._clock.now(),
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(dev_mailbox.insert().values(row))
        except sa.exc.DBAPIError as error:
            raise DeliveryFailed(f"dev mailbox: {type(error.orig).__name__}") from error
