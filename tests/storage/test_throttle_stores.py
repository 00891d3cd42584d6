"""The counter stores behind every limit (SQL, or Redis when configured) answer the same."""

from __future__ import annotations

import time
from datetime import timedelta

from accessguard.bootstrap import Services


def test_an_absent_counter_counts_nothing(services: Services) -> None:
    assert services.throttle.count("never-hit", services.clock.now()) == (0, 0)


def test_a_counter_counts_its_hits_and_says_when_its_window_ends(services: Services) -> None:
    now = services.clock.now()
    for _ in range(3):
        services.throttle.hit("three-hits", 600, now)
    count, retry_after = services.throttle.count("three-hits", now)
    assert count == 3
    assert 0 < retry_after <= 600


def test_counters_read_together_count_each_in_order(services: Services) -> None:
    now = services.clock.now()
    for _ in range(2):
        services.throttle.hit("two-hits", 600, now)
    services.throttle.hit("one-hit", 600, now)
    assert services.throttle.counts(["one-hit", "never-hit", "two-hits"], now) == [1, 0, 2]


def test_a_reset_counter_counts_nothing(services: Services) -> None:
    now = services.clock.now()
    services.throttle.hit("reset-me", 600, now)
    services.throttle.reset("reset-me")
    assert services.throttle.count("reset-me", now) == (0, 0)


def test_a_counter_whose_window_ended_counts_nothing(services: Services) -> None:
    # Redis lets the key expire by its own clock, the SQL store by the caller's: a one-second
    # window read two seconds later is over on both.
    now = services.clock.now()
    services.throttle.hit("short-window", 1, now)
    time.sleep(2.1)
    later = now + timedelta(seconds=2.1)
    assert services.throttle.count("short-window", later) == (0, 0)
    assert services.throttle.counts(["short-window"], later) == [0]
