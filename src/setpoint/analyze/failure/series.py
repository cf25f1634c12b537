"""Stored samples as per-minute grids: what the failure features are computed on.

The agent keeps a sample every 10 s by default; a feature looks at 30 minutes. Binning
to one-minute means and peaks on a dense grid (NaN where a minute has no reading)
makes every window the same 30 columns, so the features of months of history are a
few array operations, and the mean of a minute is already robust to one odd reading.
The peak keeps what a mean would hide: a short CPU spike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from setpoint.knowledge.base import SampleRepository

BIN = 60.0
"""Width of one bin, in seconds."""

CHUNK = 6 * 3600.0
"""History is read this many seconds at a time, so memory stays bounded."""

QUERY_LIMIT = 200_000
"""Rows asked for per query; a full answer splits the time range and asks again."""

SERVICE_SERIES = (
    "service.rss_bytes",
    "service.cpu_percent",
    "service.fds",
    "service.fds_limit",
    "service.threads",
    "service.probe.latency_ms",
    "service.probe.error_rate",
)
"""A service's own series: its process's (:mod:`setpoint.monitor.process`) and its probe's
(:mod:`setpoint.monitor.service_watch`)."""

HOST_SERIES = (
    "host.disk.busy_percent",
    "host.cpu.iowait_percent",
    "host.psi.io.some_avg60",
    "host.psi.memory.some_avg60",
    "host.memory.major_faults_per_s",
    "host.net.errors_per_s",
)
"""Host series every service's features see as context (see :mod:`setpoint.monitor.host`)."""


@dataclass(slots=True)
class Grid:
    """One series in bins of :data:`BIN` seconds from ``origin``: mean and peak, NaN if empty.

    >>> g = Grid.empty(0.0, 3)
    >>> g.add(np.array([0.0, 10.0, 130.0]), np.array([1.0, 3.0, 5.0]))
    >>> g.mean.tolist()[::2], g.peak.tolist()[::2], bool(np.isnan(g.mean[1]))
    ([2.0, 5.0], [3.0, 5.0], True)
    >>> g.windows(np.array([180.0]), 2)[0].tolist()
    [[nan, 5.0]]
    """

    origin: float
    total: NDArray[np.float64]
    count: NDArray[np.float64]
    top: NDArray[np.float64]

    @classmethod
    def empty(cls, origin: float, bins: int) -> Grid:
        """A grid of ``bins`` minutes from ``origin`` with nothing in it."""
        return cls(origin, np.zeros(bins), np.zeros(bins), np.full(bins, -np.inf))

    def add(self, ts: NDArray[np.float64], values: NDArray[np.float64]) -> None:
        """Fold readings into their bins (NaN readings and those outside the grid are ignored)."""
        idx = np.floor((ts - self.origin) / BIN).astype(np.intp)
        inside = (idx >= 0) & (idx < len(self.total)) & ~np.isnan(values)
        idx, values = idx[inside], values[inside]
        np.add.at(self.total, idx, values)
        np.add.at(self.count, idx, 1.0)
        np.maximum.at(self.top, idx, values)

    @property
    def mean(self) -> NDArray[np.float64]:
        """Mean of each minute; NaN for a minute without readings."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean: NDArray[np.float64] = np.where(self.count > 0, self.total / self.count, np.nan)
        return mean

    @property
    def peak(self) -> NDArray[np.float64]:
        """Highest reading of each minute; NaN for a minute without readings."""
        peak: NDArray[np.float64] = np.where(self.count > 0, self.top, np.nan)
        return peak

    def windows(
        self, ends: NDArray[np.float64], bins: int, since: NDArray[np.float64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Means and peaks of the ``bins`` minutes starting before each end: (rows, bins).

        Minutes that start before a row's ``since`` are left out (NaN).
        """
        stop = np.ceil((ends - self.origin) / BIN).astype(np.intp)
        stop = np.clip(stop, 0, len(self.total) + bins)
        pad = np.full(bins, np.nan)
        out = []
        for values in (self.mean, self.peak):
            padded = np.concatenate((pad, values, pad))
            out.append(sliding_window_view(padded, bins)[stop])
        if since is not None:
            starts = self.origin + (stop[:, None] - bins + np.arange(bins)) * BIN
            early = starts < since[:, None]
            for window in out:
                window[early] = np.nan
        return out[0], out[1]


History = dict[str, dict[str, Grid]]
"""Entity -> series name -> its per-minute grid."""


def load(
    samples: SampleRepository,
    series: Iterable[str],
    start: float,
    end: float,
    entity: str | None = None,
) -> History:
    """Every entity's per-minute grid of each of ``series`` over [start, end).

    Series are read by key, so labelled series (one key per label set) are not
    found; every series used by the failure features is unlabelled.
    """
    origin = math.floor(start / BIN) * BIN
    bins = max(1, math.ceil((end - origin) / BIN))
    found: History = {}
    for name in series:
        at = origin
        while at < end:
            until = min(at + CHUNK, end)
            for who, (ts, values) in _read(samples, name, at, until, entity).items():
                grids = found.setdefault(who, {})
                if name not in grids:
                    grids[name] = Grid.empty(origin, bins)
                grids[name].add(ts, values)
            at = until
    return found


_Columns = dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]


def _read(
    samples: SampleRepository, key: str, start: float, end: float, entity: str | None
) -> _Columns:
    """One series over [start, end) by entity; splits the range when an answer is full."""
    rows = samples.query(key=key, entity=entity, start=start, end=end, limit=QUERY_LIMIT)
    if len(rows) >= QUERY_LIMIT and end - start > BIN:
        middle = start + max(BIN, math.floor((end - start) / 2 / BIN) * BIN)
        out = _read(samples, key, start, middle, entity)
        for who, (later_ts, later) in _read(samples, key, middle, end, entity).items():
            early_ts, early = out.get(who, (np.empty(0), np.empty(0)))
            out[who] = (np.concatenate((early_ts, later_ts)), np.concatenate((early, later)))
        return out
    by_entity: dict[str, tuple[list[float], list[float]]] = {}
    for s in rows:
        if s.ts < end:
            ts, values = by_entity.setdefault(s.entity, ([], []))
            ts.append(s.ts)
            values.append(s.value)
    return {
        who: (np.asarray(ts, dtype=float), np.asarray(values, dtype=float))
        for who, (ts, values) in by_entity.items()
    }
