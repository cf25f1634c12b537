"""The foveal tier's cost per tick, idle and busy, and the choices behind its models.

Five measurements, on synthetic series (the samples are built before timing):

1. change-point algorithms on one 600-point series (a +50 % step and a 5 s burst):
   CPU per call and the change points each finds;
2. the idle path: :meth:`Foveal.observe` when nothing is salient, and the
   :meth:`Peripheral.salience` the daemon computes for it, per tick;
3. the first due tick: how long the import (on a thread) takes, the RSS it adds, and
   the longest tick while it runs;
4. the busy path: one host-like entity (26 series, 4 of them with a rule) salient
   for ``--ticks`` ticks, then 20 entities salient at once: wall time per tick
   against the budget, CPU per look;
5. the forest's threshold: how often ordinary rows fire, and how often rows whose
   relation broke do, on two kinds of entity;
6. with ``--real SECONDS``: the real host sensor read once a second through the
   peripheral and foveal tiers: how often the host is salient, and what that costs.

    .venv/bin/python bench/foveal.py [--ticks 300] [--real 600]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from setpoint.analyze.foveal.attention import Foveal
from setpoint.analyze.peripheral import Peripheral, PeripheralConfig
from setpoint.config.foveal import ForestConfig, FovealConfig
from setpoint.model import Sample

RULED = ("web.latency_ms", "web.errors", "web.requests_per_s", "web.rss_bytes")


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def spread(seconds: list[float]) -> str:
    ms = 1000 * np.array(seconds)
    return f"median {np.median(ms):.1f} / p90 {np.quantile(ms, 0.9):.1f} / max {ms.max():.1f} ms"


def cpu_ms(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = call()
    started = time.process_time()
    for _ in range(repeat):
        result = call()
    return 1000 * (time.process_time() - started) / repeat, result


def changepoint_algorithms() -> None:
    import ruptures

    rng = np.random.default_rng(0)
    x = 100.0 + rng.normal(0.0, 3.0, 600)
    x[200:205] *= 3.0
    x[400:] *= 1.5
    z = ((x - np.median(x)) / 3.0).reshape(-1, 1)
    pen = 3.0 * np.log(600)
    algos: dict[str, tuple[Callable[[], Any], int]] = {
        "KernelCPD(linear), pen (PELT in C)": (
            lambda: ruptures.KernelCPD(kernel="linear", min_size=5).fit(z).predict(pen=pen),
            50,
        ),
        'Pelt(model="l2", jump=1), pen': (
            lambda: ruptures.Pelt(model="l2", min_size=5, jump=1).fit(z).predict(pen=pen),
            1,
        ),
        'Binseg(model="l2", jump=1), pen': (
            lambda: ruptures.Binseg(model="l2", min_size=5, jump=1).fit(z).predict(pen=pen),
            10,
        ),
        'Window(width=40, model="l2", jump=1), pen': (
            lambda: (
                ruptures.Window(width=40, model="l2", min_size=5, jump=1).fit(z).predict(pen=pen)
            ),
            10,
        ),
    }
    print("1. change points on 600 points (true: 200, 205, 400)")
    for name, (call, repeat) in algos.items():
        ms, found = cpu_ms(call, repeat)
        print(f"   {name:42s} {ms:9.2f} ms   {[int(b) for b in found[:-1]]}")


def host_like(entity: str, t: int, rng: np.random.Generator) -> list[Sample]:
    values = 50.0 + rng.normal(0.0, 2.0, 26)
    names = [*RULED, *(f"host.metric{i}" for i in range(22))]
    return [Sample(n, float(v), float(t), entity) for n, v in zip(names, values, strict=True)]


def idle_path(ticks: int) -> None:
    rng = np.random.default_rng(1)
    print("2. idle path (nothing salient), per tick")
    for entities in (2, 20):
        batches = [
            [s for e in range(entities) for s in host_like(f"e{e}", t, rng)] for t in range(ticks)
        ]
        foveal = Foveal(FovealConfig(enabled=True))
        peripheral = Peripheral(PeripheralConfig(seasons=()))
        for batch in batches:
            peripheral.observe(batch)
        salience = {e: 0.0 for e in peripheral.salience()}
        started = time.process_time()
        for batch in batches:
            foveal.observe(batch, salience)
        observe_us = 1e6 * (time.process_time() - started) / ticks
        sal_us, _ = cpu_ms(peripheral.salience, ticks)
        series = 26 * entities
        print(
            f"   {series:4d} series: Foveal.observe {observe_us:6.1f} us,"
            f" Peripheral.salience {1000 * sal_us:6.1f} us"
            f" ({(observe_us + 1000 * sal_us) / 1e4:.4f} % of a core at 1 s)"
        )
        assert foveal.looks == 0


def busy_path(ticks: int) -> None:
    rng = np.random.default_rng(2)
    foveal = Foveal(FovealConfig(enabled=True))
    warm = [host_like("host", t, rng) for t in range(600)]
    for batch in warm:
        foveal.observe(batch, {"host": 0.0})
    rss, t = rss_mib(), 600
    wall, cpu = time.perf_counter(), time.process_time()
    waits: list[float] = []
    while foveal.looks == 0 and time.perf_counter() - wall < 120:
        tick = time.perf_counter()
        foveal.observe(host_like("host", t, rng), {"host": 1.0})
        if foveal.looks == 0:
            waits.append(time.perf_counter() - tick)
        t += 1
        time.sleep(0.01)
    print(
        f"3. first due tick: the import ran on a thread for {time.perf_counter() - wall:.1f} s"
        f" ({time.process_time() - cpu:.2f} s CPU), RSS {rss:.0f} -> {rss_mib():.0f} MiB;"
        f" {len(waits)} ticks meanwhile, longest {1000 * max(waits):.1f} ms"
    )
    walls, cpus = [], []
    for tick_ts in range(t, t + ticks):
        batch = host_like("host", tick_ts, rng)
        wall, cpu = time.perf_counter(), time.process_time()
        foveal.observe(batch, {"host": 1.0})
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    looks = foveal.looks - 1
    looked = [c for c in cpus if c > 2e-4]
    print(
        f"4. one entity of 26 series salient {ticks} ticks: {looks} looks (revisit 5 s),"
        f" CPU per look median {1000 * np.median(looked):.1f} ms,"
        f" mean over all ticks {1000 * np.mean(cpus):.2f} ms"
        f" ({100 * np.mean(cpus):.3f} % of a core at 1 s)"
    )
    crowd = Foveal(FovealConfig(enabled=True))
    entities = [f"e{i}" for i in range(20)]
    for t in range(600):
        crowd.observe([s for e in entities for s in host_like(e, t, rng)], {})
    walls, cpus, all_seen = [], [], None
    salient = dict.fromkeys(entities, 1.0)
    for t in range(60):
        batch = [s for e in entities for s in host_like(e, 600 + t, rng)]
        wall, cpu = time.perf_counter(), time.process_time()
        crowd.observe(batch, salient)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        if all_seen is None and len(crowd.looked()) == len(entities):
            all_seen = t + 1
    print(
        f"   20 entities of 26 series salient 60 ticks: per tick (budget 50 ms)"
        f" wall {spread(walls)}, CPU {spread(cpus)}; {crowd.looks} looks,"
        f" {crowd.deferred} deferred, every entity looked at by tick {all_seen}"
    )


def forest_threshold(seeds: int) -> None:
    from setpoint.analyze.foveal.forest import EntityForest

    def related(rng: np.random.Generator, n: int, broken: bool) -> np.ndarray:
        load = rng.uniform(0.0, 1.0, n)
        if broken:
            return np.column_stack([rng.uniform(0.0, 0.2, n), rng.uniform(1.6, 2.0, n)])
        return np.column_stack([load, 2.0 * load + rng.normal(0.0, 0.03, n)])

    def shifted(rng: np.random.Generator, n: int, broken: bool) -> np.ndarray:
        load = rng.uniform(0.0, 1.0, (n, 1))
        rows = load * [1.0, 2.0, 0.5, 3.0] + rng.normal(0.0, 0.05, (n, 4))
        if broken:
            rows[:, 1] += 0.5
        return rows

    print("5. forest threshold (margin x highest held-out score; fire: newest 5 all above)")
    config = ForestConfig()
    for name, make in (("2 series, relation inverted", related), ("4 series, one +0.5", shifted)):
        for margin in (1.0, 1.03, 1.1):
            false = looks = hits = broken_looks = 0
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                rows = make(rng, 600, False)
                keys = tuple(f"s{j}" for j in range(rows.shape[1]))
                forest = EntityForest(config.model_copy(update={"margin": margin}), keys, rows, 0)
                while not forest.ready:
                    forest.step()
                fire = sliding_window_view(forest.score(make(rng, 3000, False)), 5).min(axis=1)
                false += int((fire > forest.threshold).sum())
                looks += fire.size
                onset = np.vstack([make(rng, 4, False), make(rng, 30, True)])
                hit = sliding_window_view(forest.score(onset), 5).min(axis=1)[4:]
                hits += int((hit > forest.threshold).sum())
                broken_looks += hit.size
            print(
                f"   {name:28s} margin {margin:4.2f}: ordinary rows fire {false}/{looks}"
                f" looks, broken rows {hits}/{broken_looks}"
            )


def real_host(seconds: int) -> None:
    from setpoint.monitor.host import HostSensor

    floors = (0.99, 0.9999)
    host, peripheral = HostSensor(), Peripheral()
    tiers = {f: Foveal(FovealConfig(enabled=True, salience=f)) for f in floors}
    spent: dict[float, list[float]] = {f: [] for f in floors}
    symptoms: dict[float, list[str]] = {f: [] for f in floors}
    salient = dict.fromkeys(floors, 0)
    next_at = time.monotonic()
    for _ in range(seconds):
        batch = list(host.collect())
        peripheral.observe(batch)
        for floor, tier in tiers.items():
            started = time.process_time()
            salience = peripheral.salience()
            out = tier.observe(batch, salience)
            spent[floor].append(time.process_time() - started)
            symptoms[floor] += [f"{s.kind} {s.state.value}" for s in out]
            salient[floor] += salience.get("host", 0.0) >= floor
        next_at += 1.0
        time.sleep(max(0.0, next_at - time.monotonic()))
    print(f"6. real host, {seconds} ticks at 1 s ({len(batch)} series)")
    for floor, tier in tiers.items():
        cpu = np.array(spent[floor])
        print(
            f"   salience {floor}: host salient {salient[floor]} ticks, {tier.looks} looks;"
            f" salience + foveal CPU per tick mean {1000 * cpu.mean():.3f} ms"
            f" ({100 * cpu.mean():.4f} % of a core), max {1000 * cpu.max():.1f} ms;"
            f" symptoms {symptoms[floor]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--real", type=int, default=0, help="seconds of real host readings")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    idle_path(args.ticks)
    busy_path(args.ticks)
    changepoint_algorithms()
    forest_threshold(args.seeds)
    if args.real:
        real_host(args.real)


if __name__ == "__main__":
    main()
