"""Peripheral tier throughput: points scored per second over many series on one core.

It builds ``--series`` series (a daily wave plus noise, with a spike in 0.1 % of the
points), makes ``--batches`` distinct ticks of samples up front (so building Sample
objects is not timed), then times :meth:`Peripheral.observe` over ``--ticks`` ticks
after ``--warm`` untimed ones. Refreshes (the one sort of the buffer every ``refresh``
ticks) fall inside the timed ticks. It is a benchmark, run on demand, never a test:

    .venv/bin/python bench/peripheral.py [--series 10000] [--ticks 500] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from setpoint.analyze.peripheral import Peripheral, PeripheralConfig
from setpoint.model import Sample

GOAL_POINTS_PER_S = 1_000_000


def make_batches(series: int, batches: int, seed: int) -> list[list[Sample]]:
    rng = np.random.default_rng(seed)
    level = rng.uniform(1.0, 1000.0, series)
    keys = [f"bench.s{i}" for i in range(series)]
    entities = [f"entity{i // 10}" for i in range(series)]
    out = []
    for b in range(batches):
        values = (
            level * (1 + 0.2 * np.sin(2 * np.pi * b / 288)) + rng.normal(0, 0.05, series) * level
        )
        spikes = rng.random(series) < 0.001
        values[spikes] *= 5.0
        out.append(
            [
                Sample(k, float(v), 1.7e9 + b, entity=e)
                for k, v, e in zip(keys, values, entities, strict=True)
            ]
        )
    return out


def run(series: int, ticks: int, warm: int, batches: int) -> tuple[dict[str, object], float]:
    """The measurements, and the points scored per CPU second."""
    tier = Peripheral(PeripheralConfig())
    data = make_batches(series, batches, seed=0)
    for t in range(warm):
        tier.observe(data[t % batches])
    timed = []
    for t in range(warm, warm + ticks):
        batch = data[t % batches]
        started = time.process_time()
        tier.observe(batch)
        timed.append(time.process_time() - started)
    total = sum(timed)
    pps = series * ticks / total
    return {
        "series": series,
        "ticks": ticks,
        "cpu_seconds": round(total, 3),
        "points_per_s": round(pps),
        "tick_ms_median": round(1000 * float(np.median(timed)), 3),
        "tick_ms_p99": round(1000 * float(np.quantile(timed, 0.99)), 3),
    }, pps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=500)
    parser.add_argument("--warm", type=int, default=64)
    parser.add_argument("--batches", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    result, pps = run(args.series, args.ticks, args.warm, args.batches)
    result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    result["goal_met"] = pps >= GOAL_POINTS_PER_S
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
