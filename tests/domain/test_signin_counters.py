"""What a successful sign-in does to the failure counters: it resets its own subject's
counter when failures were counted, and writes nothing when none were (most sign-ins), so
the common case costs no counter round trip."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from accessguard.bootstrap import Services
from accessguard.domain.errors import InvalidCredentials
from accessguard.domain.lockout import Lockout, lock_seconds
from accessguard.domain.model import ClientInfo, LockState
from accessguard.domain.ports import ThrottleStore
from accessguard.domain.signin import SignedIn, SignIn
from tests.support import PASSWORD, make_account

APP = ClientInfo("203.0.113.7", "TradingApp/5.1 (iOS 18)")


class RecordingThrottle:
    """The real store, with a note of every write."""

    def __init__(self, store: ThrottleStore) -> None:
        self._store = store
        self.writes: list[tuple[str, str]] = []

    def hit(self, key: str, window_seconds: int, now: datetime) -> int:
        self.writes.append(("hit", key))
        return self._store.hit(key, window_seconds, now)

    def count(self, key: str, now: datetime) -> tuple[int, int]:
        return self._store.count(key, now)

    def counts(self, keys: Sequence[str], now: datetime) -> list[int]:
        return self._store.counts(keys, now)

    def reset(self, key: str) -> None:
        self.writes.append(("reset", key))
        self._store.reset(key)


@pytest.fixture
def throttle(services: Services) -> RecordingThrottle:
    return RecordingThrottle(services.throttle)


@pytest.fixture
def svc(services: Services, throttle: RecordingThrottle) -> Services:
    s = services
    signin = SignIn(s.rules, s.uow, s.clock, s.hasher, throttle, s.sessions, s.device_signer)
    return dataclasses.replace(s, signin=signin)


def test_a_sign_in_after_no_failure_writes_no_counter(
    svc: Services, throttle: RecordingThrottle
) -> None:
    account = make_account(svc)
    assert isinstance(svc.signin(account.email, PASSWORD, None, APP), SignedIn)
    assert throttle.writes == []


def test_a_sign_in_after_failures_resets_only_its_own_counter(
    svc: Services, throttle: RecordingThrottle
) -> None:
    account = make_account(svc)
    for attempt in range(2):
        with pytest.raises(InvalidCredentials):
            svc.signin(account.email, f"wrong password number {attempt}", None, APP)
    counted = {key for kind, key in throttle.writes if kind == "hit"}
    subject_counter = next(key for key in counted if key.startswith("fail:"))
    throttle.writes.clear()
    assert isinstance(svc.signin(account.email, PASSWORD, None, APP), SignedIn)
    # The address keeps its count: one right password does not clear a spray.
    assert throttle.writes == [("reset", subject_counter)]
    assert svc.throttle.count(subject_counter, svc.clock.now()) == (0, 0)


class _LockRowBeforeTheNewLockCommits:
    """The lock row as a racer reads it while the attempt that reached the threshold is still
    writing the new lock: the last lock, long over."""

    def __init__(self, ended: datetime) -> None:
        self.ended = ended

    def get(self, subject: str) -> LockState:
        return LockState(generation=1, level=1, locked_until=self.ended)


def test_a_racer_past_the_threshold_is_told_the_new_locks_end_not_the_last_ones(
    services: Services,
) -> None:
    now = services.clock.now()
    lockout = Lockout(services.rules, services.throttle)
    last_lock = _LockRowBeforeTheNewLockCommits(now - timedelta(minutes=3))
    seen = LockState(generation=1, level=1)

    refusal = lockout.lock_if_reached(
        last_lock,  # type: ignore[arg-type]
        "email:x",
        seen,
        services.rules.lockout_threshold + 1,
        now,
    )

    assert refusal is not None
    assert refusal.retry_after is not None
    assert refusal.retry_after >= lock_seconds(services.rules, 1) - 1
