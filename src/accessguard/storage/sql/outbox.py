"""The outbox table's writer: messages are queued in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from accessguard.domain.model import Message
from accessguard.storage.sql.tables import outbox


class SqlOutbox:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def add(self, message: Message, now: datetime) -> None:
        self._conn.execute(
            outbox.insert().values(
                channel=message.channel,
                recipient=message.to,
                template=message.template,
                payload={"data": message.data},
                account_id=message.account_id,
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
