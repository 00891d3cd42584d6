"""Requests answered before they are carried out, so that the answer cannot tell whether an
address has an account.

"Send me a reset link", "send the confirmation again" and a registration must answer alike,
and in the same time, for a known and an unknown address. Carried out at once, they would not:
a known address voids old links and stores a new one, an unknown one does neither, and those
statements take measurable time. So the request itself only queues what was asked, as the same
single outbox row on every path, and the outbox worker carries it out moments later through
the handler registered for its kind (`bootstrap.py`), which is where the address is looked up.

The row is queued in the request's transaction and sealed like every queued message; a handler
that fails is retried as a message would be. A handler runs at least once: should the process
die between the handler's commit and the row being marked done, it runs again and the newer
link voids the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accessguard.domain.emails import normalise_email
from accessguard.domain.model import ClientInfo, Message

CHANNEL = "request"


@dataclass(frozen=True)
class Asked:
    """Who asked and when, as the request's audit row and links need it."""

    email: str
    client: ClientInfo
    at: datetime
    facts: dict[str, Any]  # what the request knew that the handler needs


Handler = Callable[[Asked], None]


def deferred(kind: str, email: str, client: ClientInfo, at: datetime, **facts: Any) -> Message:
    """The outbox row that carries out request `kind` for `email` later."""
    asker = {"ip": client.ip, "user_agent": client.user_agent[:300], "at": at.isoformat()}
    return Message(CHANNEL, normalise_email(email), kind, {**asker, "facts": facts})


def asked(message: Message) -> Asked:
    data: dict[str, Any] = message.data
    client = ClientInfo(str(data["ip"]), str(data["user_agent"]))
    facts = data.get("facts") or {}
    return Asked(message.to, client, datetime.fromisoformat(str(data["at"])), dict(facts))
