"""Channels deliver one rendered message to one recipient, or raise `DeliveryFailed`."""

from __future__ import annotations

from typing import Protocol

from accessguard.notify.render import Rendered


class DeliveryFailed(Exception):
    """A send did not go through. `reason` is short and holds no address and no content,
    because it is logged and stored as the outbox row's `last_error`."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # The receiving side refused this message for good (a 5xx answer to it): sending it
        # again would get the same answer, so it is not retried.
        self.permanent = permanent


class Channel(Protocol):
    def send(self, recipient: str, rendered: Rendered) -> None:
        """Deliver the message, within the channel's time limit; raise `DeliveryFailed`."""
