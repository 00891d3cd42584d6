"""The bench's windowed ratios (scripts/bench.py): each window against the references either
side of it, and several load-generator results merged into one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("accessguard_bench", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def window(
    ok: int, seconds: float, server_cores: float, latencies: list[float], **extra: Any
) -> dict[str, Any]:
    return {
        "window": seconds,
        "ok": ok,
        "rate": ok / seconds,
        "statuses": {"200": ok, **extra.get("statuses", {})},
        "failures": extra.get("failures", {}),
        "cpu": {"server": server_cores, "loadgen": 0.1, "db": 0.0, "other": 0.0, "seconds": 1},
        "tokens": extra.get("tokens", []),
        "latencies": latencies,
        "errors": extra.get("errors", 0),
        "error_detail": extra.get("error_detail", {}),
    }


def test_each_window_is_divided_by_the_mean_of_the_references_either_side(
    bench: ModuleType,
) -> None:
    windows = [{"rate": 90.0}, {"rate": 45.0}, {"rate": 100.0}]
    references = [{"rate": 100.0}, {"rate": 80.0}, {"rate": 20.0}, {"rate": 100.0}]
    assert bench.between(windows, references) == pytest.approx([1.0, 0.9, 5 / 3])


def test_merged_windows_sum_their_counts_and_weight_cpu_by_length(bench: ModuleType) -> None:
    first = window(100, 2.0, 2.0, [0.1] * 100, tokens=["a"] * 200)
    second = window(
        300,
        4.0,
        1.0,
        [0.3] * 300,
        statuses={"503": 2},
        failures={"TimeoutError": 1},
        tokens=["b"] * 200,
        errors=3,
        error_detail={"503": 2, "TimeoutError": 1},
    )
    merged = bench.merge_windows([first, second])
    assert merged["window"] == 6.0
    assert merged["ok"] == 400
    assert merged["rate"] == pytest.approx(400 / 6)
    assert merged["statuses"] == {"200": 400, "503": 2}
    assert merged["failures"] == {"TimeoutError": 1}
    assert merged["errors"] == 3
    assert merged["error_detail"] == {"503": 2, "TimeoutError": 1}
    assert merged["cpu"]["server"] == pytest.approx((2.0 * 2 + 1.0 * 4) / 6)
    assert merged["p50_ms"] == pytest.approx(300.0)
    assert merged["p99_ms"] == pytest.approx(300.0)
    assert merged["tokens"] == ["a"] * 200 + ["b"] * 56


def test_the_verdict_is_the_median_window_and_lists_them_all(bench: ModuleType) -> None:
    cell = bench.windows_verdict([1.04, 0.85, 0.91], 0.9)
    assert cell.startswith("**0.91** (target ≥ 0.9: met)")
    assert cell.endswith("windows 1.04 / 0.85 / 0.91")


def test_cpu_apart_from_argon2_leaves_out_the_cheap_verify_it_contains(bench: ModuleType) -> None:
    # 500 sign-ins in 10 s with the server on 1 core: 20 ms each, plus 2 ms of load generator.
    cheap = window(500, 10.0, 1.0, [])
    cheap["cpu"]["loadgen"] = 0.1
    cheap["cheap_verify_ms"] = 0.5
    # From known devices: 1000 in 10 s, the server on 1 core: 10 ms each, plus 1 ms.
    cheap["known"] = window(1000, 10.0, 1.0, [])
    cheap["known"]["cpu"]["loadgen"] = 0.1
    cheap["known"]["cheap_verify_ms"] = 0.5
    data = {"overhead": cheap, "baseline_here": {"ms_per_verify": 20.0}}
    measured, allowed, known = bench.overhead_cells(data)
    assert measured == ("20.00 / 2.00 / 0.00 ms (50/s), less its cheap verify 0.50 ms: 21.50 ms")
    assert allowed == "20.0 ÷ (20.0 + 21.50) ms = 0.48"
    assert known == ("10.00 / 1.00 / 0.00 ms (100/s), less its cheap verify 0.50 ms: 10.50 ms")


def test_server_cpu_splits_into_the_loop_the_busiest_threads_and_the_rest(
    bench: ModuleType,
) -> None:
    # Server process 10 over 2 s: main thread 0.4 s, two hashing threads 1.8 s each, two
    # request threads 0.2 s each, one of which started between the snapshots.
    before = {"server:10": 1.0, "thread:10:10": 0.5, "thread:10:11": 3.0, "thread:10:12": 3.1}
    before |= {"thread:10:13": 0.7, "loadgen:99": 5.0}
    after = {"server:10": 5.6, "thread:10:10": 0.9, "thread:10:11": 4.8, "thread:10:12": 4.9}
    after |= {"thread:10:13": 0.9, "thread:10:14": 0.2, "loadgen:99": 6.0}
    split = bench.server_threads(before, after, 2.0, hashing=2)
    assert split == pytest.approx({"server_hashing": 1.8, "server_loop": 0.2, "server_rest": 0.2})
