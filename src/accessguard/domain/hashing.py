"""Where Argon2 runs: a fixed set of long-lived threads, one per core.

argon2-cffi releases the GIL, so these threads keep every core busy while the event loop
and the request threads go on. Three things follow from running every hash here:

- never more hashes at once than cores: more would only add memory (19 MiB each) and
  cache thrash, so the rest wait their turn;
- each hash reuses memory that is warm in cache. glibc gives every thread its own malloc
  arena, so a hash on whichever of the many request threads asked gets a 19 MiB block that
  has gone cold. In the bench that cost each verify about 15 % more CPU: sign-in ÷ raw
  verify rate was 0.70-0.71 on request threads against 0.79-0.82 here, in back-to-back
  runs (docs/performance.md);
- the hashers of passwords and recovery codes share the same threads and the same limit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_guard = threading.Lock()
_threads: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _threads
    with _guard:
        if _threads is None:
            _threads = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="argon2")
        return _threads


def _forget_after_fork() -> None:
    # A forked child has none of its parent's threads; it starts its own on first use.
    global _threads, _guard
    _threads = None
    _guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def on_hashing_thread(work: Callable[[], T]) -> T:
    """Run `work` (an Argon2 call) on a hashing thread and wait for its result."""
    return _executor().submit(work).result()
