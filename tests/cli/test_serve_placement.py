"""Where `accessguard serve` keeps its threads: each Argon2 thread on a core of its own, and
with one worker every other thread (the event loop, the request threads) on one core
together; `ACCESSGUARD_PIN_THREADS=false` leaves them all free to move."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from accessguard.domain.hashing import usable_cores
from tests.support import PASSWORD, free_port

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
    started: list[subprocess.Popen[bytes]] = []

    def start(extra: dict[str, str]) -> int:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ACCESSGUARD_")},
            "ACCESSGUARD_DATABASE_URL": f"sqlite:///{tmp_path}/placement.db",
            "ACCESSGUARD_ENV": "development",
            "ACCESSGUARD_COOKIE_SECURE": "false",
            "ACCESSGUARD_ARGON2_MEMORY_KIB": "1024",
            "ACCESSGUARD_ARGON2_TIME_COST": "1",
            **extra,
        }
        command = [sys.executable, "-m", "accessguard", "serve", "--port", str(port)]
        with (tmp_path / "serve.log").open("wb") as log:
            process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail((tmp_path / "serve.log").read_text())
        # A sign-in, so that request threads exist and a hash has run.
        body = {"email": "nobody@example.com", "password": PASSWORD}
        assert httpx.post(url + "/api/v1/login", json=body, timeout=10).status_code == 401
        return process.pid

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=15)


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
