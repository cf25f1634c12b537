"""A synthetic history for the failure predictor, written through the real store API.

``service:leaky`` leaks: its RSS climbs for 20 minutes before each of its failures
(``service.down``, about every 4 hours), then it restarts at its base size. The other
services stay flat. CPU, fds, threads and two host series carry noise and the odd
spike for everyone, so nothing but the climb tells a failure is coming.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from setpoint.knowledge.base import KnowledgeStore
from setpoint.model import HOST, Incident, IncidentStatus, Sample

LEAKY = "service:leaky"
FLAT = ("service:calm", "service:steady")
CLIMB = 1200.0
DOWN = 60.0
BASE_RSS = 100e6
LEAK_RSS = 150e6


def failure_times(start: float, end: float, rng: np.random.Generator) -> list[float]:
    """Failure times of the leaky service: an hour plus an exponential gap (mean 3 h) apart.

    The gaps are memoryless, so the time since the last failure says little: the
    climb is what tells.
    """
    times: list[float] = []
    at = start
    while True:
        at += 3600.0 + float(rng.exponential(3 * 3600.0))
        if at >= end:
            return times
        times.append(at)


def _rss(ts: np.ndarray, failures: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    rss = BASE_RSS + rng.normal(0.0, 1e6, len(ts))
    for f in failures:
        climbing = (ts > f - CLIMB) & (ts <= f)
        rss[climbing] += LEAK_RSS * (ts[climbing] - (f - CLIMB)) / CLIMB
    return rss


def _service(
    entity: str, ts: np.ndarray, rss: np.ndarray, rng: np.random.Generator
) -> list[Sample]:
    cpu = np.abs(rng.normal(5.0, 1.0, len(ts)))
    cpu[rng.random(len(ts)) < 0.01] += 60.0
    out = []
    for t, r, c in zip(ts.tolist(), rss.tolist(), cpu.tolist(), strict=True):
        out += [
            Sample("service.rss_bytes", r, t, entity),
            Sample("service.cpu_percent", c, t, entity),
            Sample("service.fds", 20.0 + (t // 600) % 3, t, entity),
            Sample("service.fds_limit", 1024.0, t, entity),
            Sample("service.threads", 4.0, t, entity),
        ]
    return out


def write_history(
    store: KnowledgeStore,
    start: float,
    end: float,
    every: float = 30.0,
    seed: int = 0,
    failures: Sequence[float] | None = None,
    leaky: str = LEAKY,
    flat: Sequence[str] = FLAT,
    host: bool = True,
) -> list[float]:
    """Write samples and incidents over [start, end); return the leaky service's failures."""
    rng = np.random.default_rng(seed)
    failed = list(failure_times(start, end, rng) if failures is None else failures)
    ts = np.arange(start, end, every)
    up = np.ones(len(ts), dtype=bool)
    for f in failed:
        up &= ~((ts > f) & (ts <= f + DOWN))
    batch = _service(leaky, ts[up], _rss(ts, failed, rng)[up], rng)
    for entity in flat:
        batch += _service(entity, ts, _rss(ts, [], rng), rng)
    busy = np.abs(rng.normal(10.0, 3.0, len(ts))).tolist() if host else []
    for t, b in zip(ts.tolist(), busy, strict=False):
        batch += [
            Sample("host.disk.busy_percent", b, t, HOST),
            Sample("host.cpu.iowait_percent", b / 10, t, HOST),
        ]
    for i in range(0, len(batch), 20_000):
        store.samples.append(batch[i : i + 20_000])
    for f in failed:
        store.incidents.save(
            Incident(
                f"{leaky}-{f:.0f}",
                leaky,
                f,
                IncidentStatus.RESOLVED,
                ("service.down",),
                resolved_at=f + DOWN,
            )
        )
    return failed


END = 1_700_172_900.0
"""End of the standard history: a whole 5 minutes."""


def standard_history(store: KnowledgeStore) -> list[float]:
    """Three days at one reading a minute, ending at :data:`END`; the leaky service's failures."""
    return write_history(store, END - 3 * 86400.0, END, every=60.0)


def new_climb(store: KnowledgeStore, after: float) -> float:
    """An hour after ``after`` in which the leaky service climbs toward a failure; its time."""
    fails_at = after + 3000.0
    write_history(store, after, after + 3600.0, every=60.0, seed=7, failures=[fails_at])
    return fails_at


def live_history(store: KnowledgeStore, now: float) -> float:
    """Three days up to the 5 minutes after ``now``, the leaky service 13-18 minutes into
    a climb at ``now``; return where the history ends.

    The end is a whole 5 minutes, so every run sees the same data relative to the
    dataset's steps, whatever the clock says.
    """
    end = math.ceil(now / 300.0) * 300.0
    start = end - 3 * 86400.0
    past = failure_times(start, end - 3600.0, np.random.default_rng(0))
    write_history(store, start, end, every=60.0, failures=[*past, end + 120.0])
    return end
