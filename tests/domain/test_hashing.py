"""Argon2 runs on a few long-lived threads: never more hashes at once than cores, from any
number of callers, and still after a fork; finished hashes go back in batches only while
others wait."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from accessguard.domain import recovery_codes
from accessguard.domain.hashing import (
    HashingThreads,
    cores_allowed,
    on_hashing_thread,
    on_hashing_thread_async,
    usable_cores,
)
from accessguard.domain.passwords import Argon2Hasher
from tests.conftest import FAST_HASH
from tests.storage.test_session_reads import in_a_thread


def _hasher() -> Argon2Hasher:
    return Argon2Hasher(
        time_cost=FAST_HASH["argon2_time_cost"],
        memory_kib=FAST_HASH["argon2_memory_kib"],
        parallelism=1,
    )


def test_many_callers_never_run_more_hashes_at_once_than_there_are_cores() -> None:
    cores = len(usable_cores())
    running = 0
    most = 0
    guard = threading.Lock()

    def work() -> str:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        time.sleep(0.02)  # long enough for every caller to be waiting at once
        with guard:
            running -= 1
        return threading.current_thread().name

    with ThreadPoolExecutor(cores * 4) as callers:
        names = set(callers.map(lambda _: on_hashing_thread(work), range(cores * 8)))

    assert most == cores
    assert all(name.startswith("argon2") for name in names)
    assert len(names) <= cores


def test_hash_and_verify_answer_every_caller_of_many_in_parallel() -> None:
    hasher = _hasher()
    stored = hasher.hash("correct horse battery staple")

    def check(i: int) -> bool:
        return hasher.verify(stored, "correct horse battery staple" if i % 2 else "wrong one")

    with ThreadPoolExecutor(16) as callers:
        answers = list(callers.map(check, range(64)))

    assert answers == [bool(i % 2) for i in range(64)]


def test_an_error_in_the_hash_reaches_its_caller() -> None:
    def broken() -> None:
        raise ValueError("bad parameters")

    with pytest.raises(ValueError, match="bad parameters"):
        on_hashing_thread(broken)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_hashes_on_threads_of_its_own() -> None:
    hasher = _hasher()
    stored = hasher.hash("before the fork")  # the parent's threads exist now
    pid = os.fork()
    if pid == 0:  # the child: its copies of the parent's threads do not run
        code = 1
        try:
            code = 0 if hasher.verify(stored, "before the fork") else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child waited for hashing threads that do not exist")
    assert os.waitstatus_to_exitcode(done[1]) == 0


def test_passwords_and_recovery_codes_are_hashed_on_the_hashing_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    where: list[str] = []
    real_raw = recovery_codes.hash_secret_raw

    def noting_raw(*args: object, **kwargs: object) -> bytes:
        where.append(threading.current_thread().name)
        return real_raw(*args, **kwargs)

    monkeypatch.setattr(recovery_codes, "hash_secret_raw", noting_raw)
    hasher = _hasher()
    inner = hasher._hasher  # argon2-cffi's own hasher, wrapped to see which thread calls it
    monkeypatch.setattr(hasher, "_hasher", _Noting(inner, where), raising=True)

    stored = hasher.hash("on which thread")
    hasher.verify(stored, "on which thread")
    recovery_codes.RecoveryCodeHasher(
        time_cost=FAST_HASH["argon2_time_cost"],
        memory_kib=FAST_HASH["argon2_memory_kib"],
        parallelism=1,
    ).digest("abcde-fghij", "00" * 16)

    assert len(where) == 3
    assert all(name.startswith("argon2") for name in where), where


class _Noting:
    def __init__(self, inner: object, where: list[str]) -> None:
        self._inner = inner
        self._where = where

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self._inner, name)
        if name not in {"hash", "verify"}:
            return attribute

        def noted(*args: object, **kwargs: object) -> object:
            self._where.append(threading.current_thread().name)
            return attribute(*args, **kwargs)

        return noted


class _Clock:
    """A clock the jobs move: each job's work takes exactly the seconds it adds."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _queued_behind_a_gate(
    threads: HashingThreads, clock: _Clock, *, first_takes: float
) -> tuple[threading.Event, list[Any], list[bool]]:
    """Three jobs on one thread: the first waits for the gate, so the other two are queued
    when it finishes. It takes `first_takes` seconds of the clock, the others one second
    each, and each of those notes whether the first's caller had its answer yet."""
    gate = threading.Event()

    def gated() -> str:
        gate.wait(10)
        clock.now += first_takes
        return "first"

    first = threads.submit(gated)
    seen: list[bool] = []

    def noting(name: str) -> str:
        seen.append(first.done())
        clock.now += 1.0
        return name

    futures = [
        first,
        threads.submit(lambda: noting("second")),
        threads.submit(lambda: noting("third")),
    ]
    return gate, futures, seen


@pytest.mark.parametrize(
    ("batch", "hold_seconds", "first_takes", "handed_back_when_each_other_ran"),
    [
        pytest.param(3, 60, 10, [False, False], id="with_the_batch_while_others_wait"),
        # Held while the second ran, handed back when it finished, half a second too late.
        pytest.param(100, 0.5, 10, [False, True], id="no_longer_than_the_hold_time"),
        # A cheap hash evicts nothing from the caches: holding it would only add latency.
        pytest.param(100, 60, 0.001, [False, True], id="no_longer_than_it_took"),
    ],
)
def test_a_finished_hash_is_held_for_its_batch_within_limits(
    batch: int,
    hold_seconds: float,
    first_takes: float,
    handed_back_when_each_other_ran: list[bool],
) -> None:
    clock = _Clock()
    threads = HashingThreads(1, batch=batch, hold_seconds=hold_seconds, clock=clock)
    gate, futures, seen = _queued_behind_a_gate(threads, clock, first_takes=first_takes)
    gate.set()

    assert [f.result(timeout=10) for f in futures] == ["first", "second", "third"]
    assert seen == handed_back_when_each_other_ran


def test_with_nothing_waiting_a_hash_is_handed_back_at_once() -> None:
    threads = HashingThreads(2, batch=100, hold_seconds=60)

    assert threads.submit(lambda: 42).result(timeout=10) == 42
    assert threads.submit(lambda: 43).result(timeout=10) == 43


def test_each_error_in_a_batch_reaches_its_own_caller() -> None:
    threads = HashingThreads(1, batch=4, hold_seconds=60)
    gate = threading.Event()

    def broken(i: int) -> int:
        raise ValueError(f"hash {i} failed")

    futures = [threads.submit(lambda: gate.wait(10) and 0)]
    futures += [threads.submit(lambda i=i: broken(i) if i % 2 else i) for i in range(1, 4)]
    gate.set()

    assert futures[0].result(timeout=10) == 0
    assert futures[2].result(timeout=10) == 2
    for i in (1, 3):
        with pytest.raises(ValueError, match=f"hash {i} failed"):
            futures[i].result(timeout=10)


def _masks_of_every_thread(threads: HashingThreads, count: int) -> dict[str, frozenset[int]]:
    """Each hashing thread's cores, read from inside it: `count` jobs that wait for one another
    keep every thread busy with one of them at once."""
    together = threading.Barrier(count, timeout=10)

    def mask() -> tuple[str, frozenset[int]]:
        together.wait()
        return threading.current_thread().name, frozenset(os.sched_getaffinity(0))

    futures = [threads.submit(mask) for _ in range(count)]
    return dict(future.result(timeout=10) for future in futures)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no thread affinity on this OS")
def test_each_hashing_thread_keeps_to_a_core_of_its_own() -> None:
    cores = usable_cores()
    threads = HashingThreads(len(cores), batch=1, hold_seconds=0, cores=cores)
    masks = _masks_of_every_thread(threads, len(cores))
    assert sorted(masks.values(), key=min) == [frozenset({core}) for core in cores]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no thread affinity on this OS")
def test_unpinned_hashing_threads_may_run_on_every_usable_core() -> None:
    cores = usable_cores()
    threads = HashingThreads(len(cores), batch=1, hold_seconds=0)
    masks = _masks_of_every_thread(threads, len(cores))
    assert set(masks.values()) == {frozenset(cores)}


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no thread affinity on this OS")
def test_the_cores_allowed_are_read_from_the_os_and_kept_from_before_any_pinning() -> None:
    # A container's cpuset or `taskset` narrows what a thread may use; the server's own
    # pinning of its Python threads must not shrink the hashing threads to one core.
    first = usable_cores()[0]
    seen: list[tuple[list[int], list[int]]] = []

    def narrowed() -> None:
        os.sched_setaffinity(0, {first})
        seen.append((cores_allowed(), usable_cores()))

    thread = threading.Thread(target=narrowed)
    thread.start()
    thread.join()
    assert seen == [([first], sorted(os.sched_getaffinity(0)))]


def test_an_awaited_hash_answers_on_the_event_loop() -> None:
    hasher = _hasher()
    stored = hasher.hash("correct horse battery staple")

    async def both() -> list[bool]:
        return list(
            await asyncio.gather(
                hasher.verify_async(stored, "correct horse battery staple"),
                hasher.verify_async(stored, "wrong horse battery staple"),
            )
        )

    assert in_a_thread(lambda: asyncio.run(both())) == [True, False]


def test_hashes_whose_waiters_gave_up_leave_every_hashing_thread_serving() -> None:
    """A request cancelled while its hash is queued (the client went away) must not take a
    hashing thread down with it: its hash is skipped, and the threads serve the next ones."""
    cores = len(usable_cores())
    gate = threading.Event()
    ran = []

    def blocked() -> None:
        gate.wait(timeout=30)

    def queued() -> None:
        ran.append(True)

    async def give_up() -> None:
        waiting = [asyncio.ensure_future(on_hashing_thread_async(queued)) for _ in range(cores)]
        await asyncio.sleep(0.05)  # every one of them queued behind the busy threads
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)

    busy = [threading.Thread(target=on_hashing_thread, args=(blocked,)) for _ in range(cores)]
    for thread in busy:
        thread.start()
    time.sleep(0.05)  # every hashing thread taken by a blocked hash
    in_a_thread(lambda: asyncio.run(give_up()))
    gate.set()
    for thread in busy:
        thread.join(timeout=30)

    # Every hashing thread still takes work: one hash per core, all running at once.
    together = threading.Barrier(cores)

    def meet() -> int:
        return together.wait(timeout=10)

    with ThreadPoolExecutor(cores) as callers:
        answers = [callers.submit(on_hashing_thread, meet) for _ in range(cores)]
        assert sorted(answer.result(timeout=30) for answer in answers) == list(range(cores))
    assert ran == []
