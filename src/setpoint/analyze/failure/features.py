"""Feature rows: what a service's last window of readings says about its health.

Every feature is computed for many end times at once, from one-minute windows
(:class:`~setpoint.analyze.failure.series.Grid`); the agent's single row now and the
months of rows of a training run go through the same code. A feature is ``NaN`` when
its series is missing or has fewer than :data:`MIN_BINS` minutes in the window: the
model treats that as missing, not as zero.

- memory: ``rss_trend`` (Theil-Sen slope of RSS per hour, as a share of its median:
  0.5 is +50 %/h, whatever the service's size) and ``rss_rising`` (share of minutes
  that rose over the one before: near 1 for a leak, near 0.5 for noise);
- CPU: ``cpu_median``, ``cpu_peak``, ``cpu_trend`` (points per hour) and
  ``cpu_spikes``, the share of minutes whose peak is above the window's typical peak
  by more than :data:`SPIKE_K` robust deviations (median absolute deviation);
- file descriptors and threads: ``fds_trend``, ``fds_used`` (share of the soft limit),
  ``threads_trend``;
- its probe, when it has one: ``latency_median`` (ms), ``latency_trend`` (per hour, as
  a share of its median, like ``rss_trend``: a service that slows down), ``error_rate``
  (mean share of failed probes) and ``error_rate_trend`` (points of that share per
  hour); NaN for a service without a probe;
- the host around it (the same for every service): disk busy and its trend, iowait,
  I/O and memory pressure (PSI), major faults, network errors and their trend;
- its record: ``hours_since_failure`` and ``failures_24h``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from numpy.typing import NDArray

from setpoint.analyze.failure.series import BIN, Grid

MIN_BINS = 5
"""Fewer minutes than this in a window give no trend and no shape."""

SPIKE_K = 3.0
"""A minute's peak this many robust deviations above the typical peak is a spike."""

_MAD_TO_SIGMA = 1.4826

Rows = NDArray[np.float64]
"""One value per end time."""
Windows = NDArray[np.float64]
"""One row per end time, one column per minute of its window."""


@dataclass(slots=True)
class Frame:
    """The end times ``t`` of the rows, an entity's grids, the host's and its failures.

    ``failures`` are the entity's failure start times, sorted. The entity's own
    windows start no earlier than its last failure: what led up to a failure that is
    over (a leak before the restart) says nothing about the process running now.
    """

    t: NDArray[np.float64]
    own: Mapping[str, Grid]
    host: Mapping[str, Grid]
    failures: NDArray[np.float64]
    bins: int
    _cache: dict[tuple[bool, str], tuple[Windows, Windows]] = field(default_factory=dict)

    def windows(self, own: bool, series: str) -> tuple[Windows, Windows] | None:
        """Means and peaks of ``series`` (the entity's, or the host's) before each end."""
        grid = (self.own if own else self.host).get(series)
        if grid is None:
            return None
        key = (own, series)
        if key not in self._cache:
            self._cache[key] = grid.windows(
                self.t, self.bins, self._last_failure() if own else None
            )
        return self._cache[key]

    def _last_failure(self) -> NDArray[np.float64]:
        """Start of each row's last failure before its end; -inf when there was none."""
        last = np.searchsorted(self.failures, self.t, side="right") - 1
        known = np.append(self.failures, -np.inf)  # index -1 reads the -inf
        found: NDArray[np.float64] = known[np.where(last >= 0, last, len(self.failures))]
        return found

    def own_minutes(self) -> NDArray[np.intp]:
        """How many minutes of the window the entity's best-covered series has, per row."""
        counts = [_count(w[0]) for s in self.own if (w := self.windows(True, s)) is not None]
        most: NDArray[np.intp] = np.max(counts, axis=0) if counts else np.zeros(len(self.t), int)
        return most


def _count(m: Windows) -> NDArray[np.intp]:
    counted: NDArray[np.intp] = np.sum(~np.isnan(m), axis=1)
    return counted


def _median(m: Windows) -> Rows:
    """Median of each row, ignoring NaN (sorted last); NaN for an empty row."""
    ordered = np.sort(m, axis=1)
    n = _count(m)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(ordered, np.maximum(n // 2, 0)[:, None], axis=1)[:, 0]
    out: Rows = np.where(n > 0, (lo + hi) / 2, np.nan)
    return out


def _mean(m: Windows, _: Windows) -> Rows:
    n = _count(m)
    out: Rows = np.where(n > 0, np.nansum(m, axis=1) / np.maximum(n, 1), np.nan)
    return out


def _middle(m: Windows, _: Windows) -> Rows:
    return _median(m)


def _peak(_: Windows, peak: Windows) -> Rows:
    out: Rows = np.fmax.reduce(peak, axis=1)
    return out


@cache
def _pairs(bins: int) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    i, j = np.triu_indices(bins, k=1)
    hours = ((j - i) * BIN / 3600.0).astype(np.float64)
    return i.astype(np.intp), j.astype(np.intp), hours


def _trend(m: Windows, _: Windows) -> Rows:
    """Theil-Sen slope per hour of each row's minute means: the median pairwise slope."""
    i, j, hours = _pairs(m.shape[1])
    slopes = _median((m[:, j] - m[:, i]) / hours)
    out: Rows = np.where(_count(m) >= MIN_BINS, slopes, np.nan)
    return out


def _relative_trend(m: Windows, peak: Windows) -> Rows:
    level = _median(m)
    out: Rows = np.where(level > 0, _trend(m, peak) / level, np.nan)
    return out


def _rising(m: Windows, _: Windows) -> Rows:
    step = np.diff(m, axis=1)
    steps = _count(step)
    share = np.sum(step > 0, axis=1) / np.maximum(steps, 1)
    out: Rows = np.where((_count(m) >= MIN_BINS) & (steps > 0), share, np.nan)
    return out


def _spikes(_: Windows, peak: Windows) -> Rows:
    """Share of minutes whose peak stands out from the window's typical peak."""
    typical = _median(peak)
    spread = _MAD_TO_SIGMA * _median(np.abs(peak - typical[:, None]))
    floor = np.maximum(np.maximum(spread, 0.01 * np.abs(typical)), 1e-9)
    n = _count(peak)
    share = np.sum(peak > (typical + SPIKE_K * floor)[:, None], axis=1) / np.maximum(n, 1)
    out: Rows = np.where(n >= MIN_BINS, share, np.nan)
    return out


def _last(m: Windows) -> Rows:
    """The newest non-NaN value of each row; NaN for an empty row."""
    newest = m.shape[1] - 1 - np.argmax(~np.isnan(m[:, ::-1]), axis=1)
    out: Rows = np.where(_count(m) > 0, m[np.arange(len(m)), newest], np.nan)
    return out


Stat = Callable[[Windows, Windows], Rows]
Feature = Callable[[Frame], Rows]


def _of(own: bool, series: str, stat: Stat) -> Feature:
    def compute(frame: Frame) -> Rows:
        found = frame.windows(own, series)
        return np.full(len(frame.t), np.nan) if found is None else stat(*found)

    return compute


def _fds_used(frame: Frame) -> Rows:
    fds, limit = frame.windows(True, "service.fds"), frame.windows(True, "service.fds_limit")
    if fds is None or limit is None:
        return np.full(len(frame.t), np.nan)
    cap = _last(limit[0])
    out: Rows = np.where(cap > 0, _last(fds[0]) / cap, np.nan)
    return out


def _hours_since_failure(frame: Frame) -> Rows:
    if not len(frame.failures):
        return np.full(len(frame.t), np.nan)
    last = np.searchsorted(frame.failures, frame.t, side="right") - 1
    since = (frame.t - frame.failures[np.maximum(last, 0)]) / 3600.0
    out: Rows = np.where(last >= 0, since, np.nan)
    return out


def _failures_24h(frame: Frame) -> Rows:
    upto = np.searchsorted(frame.failures, frame.t, side="right")
    since = np.searchsorted(frame.failures, frame.t - 86400.0, side="left")
    return (upto - since).astype(float)


FEATURES: tuple[tuple[str, Feature], ...] = (
    ("rss_trend", _of(True, "service.rss_bytes", _relative_trend)),
    ("rss_rising", _of(True, "service.rss_bytes", _rising)),
    ("cpu_median", _of(True, "service.cpu_percent", _middle)),
    ("cpu_peak", _of(True, "service.cpu_percent", _peak)),
    ("cpu_trend", _of(True, "service.cpu_percent", _trend)),
    ("cpu_spikes", _of(True, "service.cpu_percent", _spikes)),
    ("fds_trend", _of(True, "service.fds", _trend)),
    ("fds_used", _fds_used),
    ("threads_trend", _of(True, "service.threads", _trend)),
    ("latency_median", _of(True, "service.probe.latency_ms", _middle)),
    ("latency_trend", _of(True, "service.probe.latency_ms", _relative_trend)),
    ("error_rate", _of(True, "service.probe.error_rate", _mean)),
    ("error_rate_trend", _of(True, "service.probe.error_rate", _trend)),
    ("io_busy", _of(False, "host.disk.busy_percent", _mean)),
    ("io_busy_trend", _of(False, "host.disk.busy_percent", _trend)),
    ("iowait", _of(False, "host.cpu.iowait_percent", _mean)),
    ("io_pressure", _of(False, "host.psi.io.some_avg60", _mean)),
    ("memory_pressure", _of(False, "host.psi.memory.some_avg60", _mean)),
    ("major_faults", _of(False, "host.memory.major_faults_per_s", _mean)),
    ("net_errors", _of(False, "host.net.errors_per_s", _mean)),
    ("net_errors_trend", _of(False, "host.net.errors_per_s", _trend)),
    ("hours_since_failure", _hours_since_failure),
    ("failures_24h", _failures_24h),
)
"""Every feature, in the order of a row's columns.

A model names the columns it was trained on; one trained before a feature was added
still loads and reads its own columns by name (:func:`~setpoint.analyze.failure.model.load`).
"""

FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
"""The column names of a feature row."""


def feature_matrix(frame: Frame) -> NDArray[np.float64]:
    """The features of every row of ``frame``: shape (rows, len(FEATURE_NAMES)).

    >>> rss = Grid.empty(0.0, 30)
    >>> t = np.arange(0.0, 1800.0, 60.0)
    >>> rss.add(t, 1e8 * (1 + t / 3600))
    >>> frame = Frame(np.array([1800.0]), {"service.rss_bytes": rss}, {}, np.empty(0), 30)
    >>> row = feature_matrix(frame)[0]
    >>> round(float(row[0]), 2), float(row[1]), bool(np.isnan(row[2]))
    (0.81, 1.0, True)
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.column_stack([compute(frame) for _, compute in FEATURES])
