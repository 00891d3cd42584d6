"""Where `accessguard serve` keeps its threads: each Argon2 thread on a core of its own, and
with one worker every other thread (the event loop, the request threads) on one core
together; `ACCESSGUARD_PIN_THREADS=false` leaves them all free to move."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from accessguard.domain.hashing import usable_cores
from tests.support import PASSWORD, served

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(usable_cores()) < 2,
    reason="needs Linux thread affinity and at least two usable cores",
)


def _cores_of_each_thread(pid: int) -> dict[int, frozenset[int]]:
    masks = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                masks[int(task.name)] = frozenset(_listed(line.split(":", 1)[1].strip()))
    return masks


def _listed(text: str) -> set[int]:
    """`0-3,6` as the kernel writes it."""
    cores: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cores.update(range(int(first), int(last or first) + 1))
    return cores


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], int]]:
    numbers = itertools.count()
    with ExitStack() as servers:

        def start(extra: dict[str, str]) -> int:
            folder = tmp_path / f"server{next(numbers)}"
            folder.mkdir()
            pid, url = servers.enter_context(served(folder, extra))
            # A sign-in, so that request threads exist and a hash has run.
            body = {"email": "nobody@example.com", "password": PASSWORD}
            assert httpx.post(url + "/api/v1/login", json=body, timeout=10).status_code == 401
            return pid

        yield start


def test_hashing_threads_keep_a_core_each_and_the_rest_keep_to_one(
    serve: Callable[[dict[str, str]], int],
) -> None:
    pid = serve({})
    masks = _cores_of_each_thread(pid)
    assert all(len(mask) == 1 for mask in masks.values()), masks
    # The main thread's core is shared by the rest; every usable core has a hashing thread.
    assert set().union(*masks.values()) == set(usable_cores())
    python_core = masks[pid]
    assert sum(mask != python_core for mask in masks.values()) == len(usable_cores()) - 1


def test_pinning_can_be_turned_off(serve: Callable[[dict[str, str]], int]) -> None:
    pid = serve({"ACCESSGUARD_PIN_THREADS": "false"})
    masks = _cores_of_each_thread(pid)
    assert set(masks.values()) == {frozenset(usable_cores())}
