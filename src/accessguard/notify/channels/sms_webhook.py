"""Text messages through an HTTP gateway: POST {"to", "body"} as JSON."""

from __future__ import annotations

import logging
import time

import httpx

from accessguard.notify.channels import DeliveryFailed
from accessguard.notify.render import Rendered

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
# httpx limits each read, not the whole answer: a gateway dripping a byte every few seconds
# would hold the customer's request for ever without an overall limit.
DEFAULT_DEADLINE_SECONDS = 8.0


class SmsWebhookChannel:
    def __init__(
        self,
        url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._deadline_seconds = deadline_seconds
        # httpx logs every request's URL at INFO, and a gateway's URL often carries its API
        # key or a user and password: no secret may reach a log line.
        for library in ("httpx", "httpcore"):
            logging.getLogger(library).setLevel(logging.WARNING)

    def send(self, recipient: str, rendered: Rendered) -> None:
        deadline = time.monotonic() + self._deadline_seconds
        # A client per send: texts are rare, and nothing is left open for anyone to close.
        try:
            with (
                httpx.Client(timeout=self._timeout) as client,
                client.stream(
                    "POST", self._url, json={"to": recipient, "body": rendered.text}
                ) as response,
            ):
                for _ in response.iter_raw():
                    if time.monotonic() > deadline:
                        raise self._failed("answer took too long")
        except httpx.TransportError as error:
            raise self._failed(type(error).__name__) from error
        if not response.is_success:
            raise self._failed(f"status {response.status_code}")

    def _failed(self, detail: str) -> DeliveryFailed:
        reason = f"sms gateway: {detail}"
        log.warning("text message not delivered: %s", reason)
        return DeliveryFailed(reason)
