from __future__ import annotations

import logging
import threading

import pytest

from accessguard.notify.outbox import DispatchReport
from accessguard.notify.worker import OutboxWorker


class FlakyDispatcher:
    """Fails its first pass with a message that must not reach the log."""

    def __init__(self) -> None:
        self.passes = 0
        self.second_pass = threading.Event()

    def run_once(self, limit: int = 50) -> DispatchReport:
        self.passes += 1
        if self.passes == 1:
            raise RuntimeError("smtp said no to ada@example.com")
        self.second_pass.set()
        return DispatchReport()


def test_worker_survives_a_failing_pass_and_runs_again_when_woken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = FlakyDispatcher()
    worker = OutboxWorker(dispatcher, poll_seconds=3600)

    worker.start()
    try:
        worker.wake()
        assert dispatcher.second_pass.wait(timeout=5)
    finally:
        worker.stop()

    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "outbox pass failed: RuntimeError"
    assert "ada@example.com" not in caplog.text
