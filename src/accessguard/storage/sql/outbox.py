"""The outbox table's writer: messages are queued in the caller's transaction.

A message's data holds what it must carry, emailed links with their tokens among them, so
it is sealed (AES-GCM, the settings' secret keys) until the sender opens it and, once sent,
redacts it: the table never holds a usable token in the clear, even through a long mail
server outage.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from accessguard.domain.model import Message
from accessguard.domain.ports import SecretBox
from accessguard.storage.sql.tables import outbox


def sealed_payload(data: dict[str, object], box: SecretBox | None) -> dict[str, object]:
    if box is None:
        return {"data": data}
    return {"sealed": box.seal(json.dumps(data))}


def opened_data(payload: dict[str, object], box: SecretBox | None) -> dict[str, object]:
    """The message's data; raises ValueError when it cannot be opened (no key for it)."""
    if "sealed" not in payload:
        data = payload.get("data", {})
    elif box is None:
        raise ValueError("sealed, and no key configured")
    else:
        data = json.loads(box.open(str(payload["sealed"])))
    if not isinstance(data, dict):
        raise ValueError("not a message's data")
    return data


class SqlOutbox:
    def __init__(self, conn: sa.Connection, box: SecretBox | None = None) -> None:
        self._conn = conn
        self._box = box

    def add(self, message: Message, now: datetime) -> None:
        self._conn.execute(
            outbox.insert().values(
                channel=message.channel,
                recipient=message.to,
                template=message.template,
                payload=sealed_payload(message.data, self._box),
                account_id=message.account_id,
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
