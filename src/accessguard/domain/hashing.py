"""Where Argon2 runs: a fixed set of long-lived threads, one per core.

argon2-cffi releases the GIL, so these threads keep every core busy while the event loop
and the request threads go on. Five things follow from running every hash here:

- never more hashes at once than cores: more would only add memory (19 MiB each) and
  cache thrash, so the rest wait their turn;
- each hash reuses memory that is warm in cache. glibc gives every thread its own malloc
  arena, so a hash on whichever of the many request threads asked gets a 19 MiB block that
  has gone cold. In the bench that cost each verify about 15 % more CPU: sign-in ÷ raw
  verify rate was 0.70-0.71 on request threads against 0.79-0.82 here, in back-to-back
  runs (docs/performance.md);
- while other hashes wait their turn, finished ones are handed back a few at a time, not
  one by one (`HashingThreads`);
- the hashers of passwords and recovery codes share the same threads and the same limit;
- each thread keeps to a core of its own, and in a single-process server the threads that
  run Python (the event loop, the request threads) keep to one core together: the GIL lets
  only one of them run at a time anyway. Left to move, a hash that the scheduler carries to
  another core leaves its warm caches behind, and the Python that preempts it finds its own
  gone (`place_threads`; measured in docs/performance.md, session 15).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

# Under full load a core finishes a hash every 20-50 ms (by machine), so with two per core
# a batch is the hashes of about one round of every core. The first result of a batch is
# held no longer than its own hash took, which lets the other cores' hashes of that round
# join it, and never longer than HOLD_SECONDS: under load a result waits at most that plus
# one hash, small next to the queue it waited in. A cap below a machine's hash time closes
# batches before that round is in: at 15 ms, on an AMD machine whose verify takes 19 ms,
# the event loop spent 1.86-1.91 ms per sign-in against 1.44-1.68 ms at 40 ms
# (docs/performance.md, session 22).
BATCH_PER_THREAD = 2
HOLD_SECONDS = 0.04

_Outcome = tuple["Future[Any]", bool, Any]


class HashingThreads:
    """`count` long-lived threads taking work from one queue, first come first served.

    Why results go back in batches: every hash sweeps its 19 MiB through the caches, so
    the Python that runs after one (the rest of a sign-in, on the request thread and the
    event loop) finds its own code and data evicted. Handed back together, the sign-ins
    that follow run one after another and all but the first find the caches warm. Measured
    on a 2-core VM with real hashes, three alternating pairs: the sign-in's Python apart
    from the hash fell from 12.7-13.6 % to 10.3-11.4 % of a verify's CPU
    (docs/performance.md, session 9).

    A result is held only while another hash is waiting in the queue: its completion looks
    at the batch again, so nothing is held when the service is not saturated. Nor is one
    held longer than `hold_seconds` or than its own hash took, so under load nothing waits
    more than that plus one hash. Cheap hashes (the tests', the bench's cheap-hash row)
    evict nothing and are held for next to no time.
    """

    def __init__(
        self,
        count: int,
        *,
        batch: int,
        hold_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        cores: Sequence[int] = (),
    ) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._batch = batch
        self._hold = hold_seconds
        self._guard = threading.Lock()
        self._clock = clock
        self._done: list[_Outcome] = []
        self._hand_back_by = 0.0
        for number in range(count):
            # Daemon threads: a hash still running when the interpreter exits is abandoned
            # with the request that asked for it.
            name = f"argon2_{number}"
            core = cores[number % len(cores)] if cores else None
            threading.Thread(target=self._serve, args=(core,), name=name, daemon=True).start()

    def submit(self, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((work, future))
        return future

    def _serve(self, core: int | None) -> None:
        if core is not None:
            keep_to(core)
        while True:
            work, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                # Its caller gave up while it waited (a request cancelled on the event loop):
                # no core spends a hash on it.
                continue
            started = self._clock()
            try:
                outcome: _Outcome = (future, True, work())
            except BaseException as error:  # noqa: BLE001 - raised again in the caller
                outcome = (future, False, error)
            for done, ok, value in self._finished(outcome, started):
                if ok:
                    done.set_result(value)
                else:
                    done.set_exception(value)

    def _finished(self, outcome: _Outcome, started: float) -> list[_Outcome]:
        """The results to hand back now: none while the batch is filling and others wait."""
        with self._guard:
            now = self._clock()
            if not self._done:
                self._hand_back_by = now + min(self._hold, now - started)
            self._done.append(outcome)
            filling = len(self._done) < self._batch and now < self._hand_back_by
            if filling and not self._jobs.empty():
                return []
            ready, self._done = self._done, []
            return ready


_guard = threading.Lock()
_threads: HashingThreads | None = None


_one_core_each = True


def cores_allowed() -> list[int]:
    """The cores the calling thread may run on: a container's cpuset or `taskset` may allow
    fewer than the machine has, and a thread per core beyond them would only wait its turn."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # no affinity calls on this OS
        return list(range(os.cpu_count() or 1))


# Read once, before any thread of this process is kept to a core: a thread started later by
# one kept to a single core would read that one core alone.
_USABLE = cores_allowed()


def usable_cores() -> list[int]:
    """The cores this process may run on."""
    return list(_USABLE)


def keep_to(core: int) -> None:
    """Keep the calling thread on `core`, where the OS allows it; placement only saves CPU, so
    a refusal changes nothing else."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {core})


def place_threads(*, pinned: bool) -> None:
    """Whether each hashing thread started after this call keeps to a core of its own
    (`ACCESSGUARD_PIN_THREADS`)."""
    global _one_core_each
    _one_core_each = pinned


def keep_python_together() -> None:
    """Keep the calling thread, and every thread it starts from now on, to the first usable
    core. For the main thread of a single-process server, before it serves: its request
    threads then share one core and its caches, while each hashing thread has its own. Not
    for several worker processes, whose Python would all crowd onto one core."""
    keep_to(usable_cores()[0])


def _hashing_threads() -> HashingThreads:
    global _threads
    with _guard:
        if _threads is None:
            cores = usable_cores()
            _threads = HashingThreads(
                len(cores),
                batch=BATCH_PER_THREAD * len(cores),
                hold_seconds=HOLD_SECONDS,
                cores=cores if _one_core_each else (),
            )
        return _threads


def _forget_after_fork() -> None:
    # A forked child has none of its parent's threads; it starts its own on first use.
    global _threads, _guard
    _threads = None
    _guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def on_hashing_thread(work: Callable[[], T]) -> T:
    """Run `work` (an Argon2 call) on a hashing thread and wait for its result."""
    return _hashing_threads().submit(work).result()


async def on_hashing_thread_async(work: Callable[[], T]) -> T:
    """Run `work` on a hashing thread and await its result without holding a thread. Cancelled
    while it waits its turn, the hash is skipped; once running, it finishes unheard."""
    return await asyncio.wrap_future(_hashing_threads().submit(work))
