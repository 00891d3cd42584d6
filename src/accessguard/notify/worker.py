"""A background thread that runs the dispatcher every few seconds, or at once when woken."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from accessguard.notify.outbox import DispatchReport

log = logging.getLogger(__name__)


class _Dispatcher(Protocol):
    def run_once(
        self, limit: int = ..., keep_going: Callable[[], bool] = ...
    ) -> DispatchReport: ...


class OutboxWorker:
    def __init__(self, dispatcher: _Dispatcher, *, poll_seconds: float, batch: int = 50) -> None:
        self._dispatcher = dispatcher
        self._poll_seconds = poll_seconds
        self._batch = batch
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (a message was just queued)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Let the current send finish (at most `timeout`), then stop. A message abandoned
        mid-send is claimed again when its lease runs out, by this or another instance."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)

    def _running(self) -> bool:
        return not self._stopping.is_set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            full = self._pass()
            if not full:
                self._wake.wait(self._poll_seconds)
            # Cleared after the wait, before the next pass: a wake() meanwhile is still served.
            self._wake.clear()

    def _pass(self) -> bool:
        """One dispatch; True when the batch was full and more may be waiting."""
        try:
            report = self._dispatcher.run_once(self._batch, self._running)
        except Exception as error:  # noqa: BLE001 - the sender must outlive a bad moment
            # The type only: driver and channel errors can quote addresses or content.
            log.error("outbox pass failed: %s", type(error).__name__)
            return False
        return report.sent + report.retried + report.abandoned >= self._batch
