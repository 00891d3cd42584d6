from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from accessguard.notify.outbox import DispatchReport
from accessguard.notify.worker import OutboxWorker


class FlakyDispatcher:
    """Fails its first pass with a message that must not reach the log."""

    def __init__(self) -> None:
        self.passes = 0
        self.second_pass = threading.Event()

    def run_once(self, limit: int = 50, keep_going: object = None) -> DispatchReport:
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


class SlowDispatcher:
    """Every message takes as long as a send to a mail server that never answers."""

    def __init__(self) -> None:
        self.sent = 0
        self.started = threading.Event()

    def run_once(
        self, limit: int = 50, keep_going: Callable[[], bool] = lambda: True
    ) -> DispatchReport:
        for _ in range(limit):
            if not keep_going():
                break
            self.started.set()
            time.sleep(0.2)
            self.sent += 1
        return DispatchReport(sent=self.sent)


def test_stopping_waits_for_the_message_being_sent_not_for_the_rest_of_the_batch() -> None:
    # SIGTERM with a dead mail server used to wait out every message of a batch (minutes).
    dispatcher = SlowDispatcher()
    worker = OutboxWorker(dispatcher, poll_seconds=3600, batch=50)
    worker.start()
    assert dispatcher.started.wait(timeout=5)
    worker.stop(timeout=5)
    assert dispatcher.sent <= 2
