"""Attention state size and save/restore time: 10,000 series x 256 window, into SQLite.

It builds the state of a :class:`Peripheral` with the default configuration (window
256, daily and weekly seasons) and ``--series`` series directly, as numbers a tier
would hold: every ring buffer full, and either every seasonal envelope filled (three
weeks and more of history: ``steady``) or none yet (``first day``). The values are a
level in 1..1000 with 5 % Gaussian noise at full float64 precision, which compresses
worse than most real metrics (counters, integers, flat gauges). Then it times, with
the wall clock, what the agent does: the snapshot on the event loop (``get_state``,
copies), encoding and the SQLite write on the writer thread, and at start reading,
decoding and ``set_state``. It is a benchmark, run on demand, never a test:

    .venv/bin/python bench/attention_state.py [--series 10000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from setpoint.analyze.peripheral import Peripheral, PeripheralConfig
from setpoint.analyze.snapshot import decode, encode
from setpoint.knowledge.open import open_store


def synthetic_state(series: int, steady: bool, seed: int = 0) -> dict[str, Any]:
    """A full state of ``series`` series, from a tier's own (empty) snapshot's layout."""
    rng = np.random.default_rng(seed)
    config = PeripheralConfig()
    state = Peripheral(config).get_state()
    level = rng.uniform(1.0, 1000.0, series)

    def noisy(*shape: int) -> np.ndarray:
        return level * (1.0 + 0.05 * rng.standard_normal((*shape, series)))

    state["keys"] = [f"bench.s{i}" for i in range(series)]
    state["entities"] = [f"entity{i // 10}" for i in range(series)]
    state["buf"] = np.ascontiguousarray(noisy(config.window).T)
    state["count"] = np.full(series, 10_000, dtype=np.int64)
    state["median"], state["inv"] = level, 1.0 / (0.05 * level)
    state["peak"] = rng.uniform(0.0, 0.5, series)
    state["run"] = np.zeros(series, dtype=np.int64)
    state["calm"] = np.full(series, 100, dtype=np.int64)
    for i, season in enumerate(config.seasons):
        shape = (3, season.buckets)
        lo = noisy(*shape) if steady else np.full((*shape, series), np.inf)
        state[f"season.{i}.lo"] = lo
        state[f"season.{i}.hi"] = lo + np.abs(noisy(*shape) - level) if steady else -lo
        state[f"season.{i}.born"] = np.zeros(series, dtype=np.int64)
        state[f"season.{i}.current"] = 5_000
    return state


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """The result of ``fn`` and its median wall time over ``repeat`` runs."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times)


def run(series: int, steady: bool, repeat: int, directory: Path) -> dict[str, object]:
    """Size and times of one state."""
    tier = Peripheral(PeripheralConfig())
    tier.set_state(synthetic_state(series, steady))
    snapshot, snap_s = timed(tier.get_state, repeat)
    raw = sum(v.nbytes for v in snapshot.values() if isinstance(v, np.ndarray))
    blob, encode_s = timed(lambda: encode(snapshot), repeat)
    with open_store(f"sqlite:///{directory / 'state.db'}", directory) as store:
        _, write_s = timed(lambda: store.detector_state.save("peripheral", 1, blob, 0.0), repeat)
        stored, read_s = timed(lambda: store.detector_state.load("peripheral"), repeat)
    _, restore_s = timed(lambda: Peripheral(PeripheralConfig()).set_state(decode(stored.state)), 1)
    return {
        "series": series,
        "history": "steady" if steady else "first day",
        "raw_mb": round(raw / 1e6, 1),
        "stored_mb": round(len(blob) / 1e6, 1),
        "snapshot_on_loop_s": round(snap_s, 3),
        "encode_s": round(encode_s, 3),
        "sqlite_write_s": round(write_s, 3),
        "sqlite_read_s": round(read_s, 3),
        "decode_and_set_state_s": round(restore_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    results = []
    with tempfile.TemporaryDirectory(prefix="setpoint-bench-") as tmp:
        for steady in (False, True):
            results.append(run(args.series, steady, args.repeat, Path(tmp)))
    if args.json:
        print(json.dumps({"machine": machine, "results": results}))
        return
    print(f"machine: {machine}")
    for result in results:
        print(", ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
