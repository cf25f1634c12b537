"""Disk-full benchmark: real files filling a real 256 MiB tmpfs, time-scaled.

The script mounts its own tmpfs (``mount -t tmpfs -o size=256m``) on a temporary
directory, fills it with real writes, reads ``statvfs`` of it every 0.25 s (psutil) and
unmounts it at the end. Scenarios run ``scale`` times faster than the time they stand
for: readings are stamped in *virtual* seconds (elapsed x scale) and fed to setpoint's
:class:`~setpoint.analyze.exhaustion.ExhaustionWatch` with the production ``prediction.disk``
defaults, so the detector sees what the agent would (the agent itself does not watch
tmpfs mounts). Prometheus' ``predict_linear(free[5m], 3600) < 0`` is evaluated on the
same readings, scraped every 15 virtual seconds.

Lead = virtual time the disk was full - first alarm; ETA error = |ETA at the first
alarm - true time left| / true time left, and its median over the alarms that follow.

    .venv/bin/python -m bench.disk_full [--save FILE] [--prediction YAML] [--only TEXT]

``--prediction`` replaces the ``prediction`` defaults (``'{duration_fraction: 0.05,
disk: {min_duration: 12s}}'``), to measure what other settings trade; ``--only`` runs the
scenarios whose name contains TEXT (repeatable).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import yaml

from setpoint.analyze.exhaustion import ExhaustionWatch
from setpoint.config.prediction import PredictionConfig
from setpoint.model import Sample

MIB = 2**20
SIZE_MIB = 256
EVERY = 0.25
Target = Callable[[float], float]
"""Bytes the filler should hold at a virtual time (seconds)."""


def linear(start: float, full_at: float, begin: float = 0.0) -> Target:
    return lambda v: start + max(0.0, v - begin) / full_at * (SIZE_MIB * MIB - start)


def accelerating(start: float, full_at: float) -> Target:
    # rate grows linearly to 3x its start: bytes ~ r0 (v + v^2 / full_at)
    r0 = (SIZE_MIB * MIB - start) / (2 * full_at)
    return lambda v: start + r0 * (v + v * v / full_at)


def burst(base: float, extra: float, at: float, hold: float) -> Target:
    return lambda v: base + (extra if at <= v < at + hold else 0.0)


def upgrade(base: float) -> Target:
    # unpack 60 MiB over 20 s, then remove 45 MiB of old files; twice
    def target(v: float) -> float:
        done = 0.0
        for start in (30.0, 120.0):
            if v >= start:
                done += min(60.0, 3.0 * (v - start)) * MIB
            if v >= start + 25:
                done -= 45 * MIB
        return base + done

    return target


def logrotate(base: float) -> Target:
    # steady log of 2 KiB/s; rotation at 60 s: a compressed copy (+30 MiB) stays
    return lambda v: base + 2048 * v + (30 * MIB if v >= 60 else 0.0)


SCENARIOS: list[tuple[str, float, float, Target, bool]] = [
    # name, scale, virtual seconds, target, fills?
    ("fill 4 min (constant)", 4.0, 240.0, linear(26 * MIB, 240.0), True),
    ("fill 40 min (constant)", 40.0, 2400.0, linear(26 * MIB, 2400.0), True),
    ("fill 40 min (accelerating x3)", 40.0, 2400.0, accelerating(26 * MIB, 2400.0), True),
    ("fill 80 min after 20 quiet (constant)", 40.0, 6000.0, linear(60 * MIB, 4800.0, 1200.0), True),
    ("40 MiB file held 60 s", 4.0, 180.0, burst(60 * MIB, 40 * MIB, 30.0, 60.0), False),
    ("package upgrade x2", 4.0, 200.0, upgrade(60 * MIB), False),
    ("log rotation step", 4.0, 160.0, logrotate(60 * MIB), False),
]


def _prometheus(points: list[tuple[float, float]], now: float) -> bool:
    window = [(t, f) for t, f in points if now - 300 <= t <= now]
    if len(window) < 2:
        return False
    t, f = np.array(window).T
    slope, icept = np.polyfit(t, f, 1)
    return bool(icept + slope * (now + 3600) < 0)


class Filler:
    """Holds ``target`` bytes in files under ``root`` (writes and removes real files)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[tuple[Path, int]] = []
        self.held = 0

    def hold(self, target: float) -> None:
        want = min(int(target), SIZE_MIB * MIB)
        while self.held > want and self.files:
            path, size = self.files.pop()
            path.unlink()
            self.held -= size
        while self.held < want:
            size = min(want - self.held, 4 * MIB)
            path = self.root / f"f{len(self.files)}-{time.monotonic_ns()}"
            try:
                path.write_bytes(b"\1" * size)
            except OSError:  # ENOSPC: the disk is full
                path.unlink(missing_ok=True)
                return
            self.files.append((path, size))
            self.held += size


def run(
    name: str,
    scale: float,
    span: float,
    target: Target,
    fills: bool,
    mnt: Path,
    prediction: PredictionConfig,
) -> dict[str, Any]:
    policy = prediction.policies()["disk"]
    watch = ExhaustionWatch({"disk": policy})
    filler = Filler(mnt)
    ours: list[tuple[float, float]] = []  # virtual time, ETA then
    prom_first: float | None = None
    scraped: list[tuple[float, float]] = []
    full_at: float | None = None
    start = time.monotonic()
    next_scrape = 0.0
    while (v := (time.monotonic() - start) * scale) < span + 60:
        filler.hold(target(v))
        free = float(psutil.disk_usage(str(mnt)).free)
        if full_at is None and free < MIB:
            full_at = v
        sample = Sample("host.disk.free_bytes", free, v, labels={"mount": "/bench"})
        watch.observe([sample])
        trend = watch.latest("host", sample.key)
        if watch.firing() and trend is not None and (not ours or ours[-1][0] != trend.at):
            ours.append((trend.at, trend.eta))
        if v >= next_scrape:
            next_scrape += 15.0
            scraped.append((v, free))
            if prom_first is None and _prometheus(scraped, v):
                prom_first = v
        time.sleep(EVERY)
    for path, _ in filler.files:
        path.unlink()
    first = ours[0][0] if ours else None
    out: dict[str, Any] = {"scenario": name, "scale": scale, "fills": fills, "full_at_s": full_at}
    out["alarm_at_s"] = None if first is None else round(first, 1)
    out["prometheus_alarm_at_s"] = None if prom_first is None else round(prom_first, 1)
    if fills and full_at is not None:
        out["lead_s"] = None if first is None else round(full_at - first, 1)
        out["prometheus_lead_s"] = None if prom_first is None else round(full_at - prom_first, 1)
        errors = [abs(eta - (full_at - v)) / (full_at - v) for v, eta in ours if full_at - v > 0]
        out["eta_error_first"] = None if not errors else round(errors[0], 3)
        out["eta_error_median"] = None if not errors else round(statistics.median(errors), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path)
    parser.add_argument("--prediction", default="{}", help="prediction settings (YAML)")
    parser.add_argument("--only", action="append", default=[], help="scenario name part")
    args = parser.parse_args()
    prediction = PredictionConfig.model_validate(yaml.safe_load(args.prediction))
    chosen = [s for s in SCENARIOS if not args.only or any(o in s[0] for o in args.only)]
    results = []
    with tempfile.TemporaryDirectory(prefix="setpoint-disk-") as tmp:
        mnt = Path(tmp)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MIB}m", "tmpfs", tmp], check=True
        )
        try:
            for name, scale, span, target, fills in chosen:
                results.append(run(name, scale, span, target, fills, mnt, prediction))
                print(json.dumps(results[-1]), flush=True)
        finally:
            subprocess.run(["umount", tmp], check=True)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
