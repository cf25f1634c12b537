"""A regular series for forecasting, built from the store's samples and hourly roll-ups.

Forecast models want one value per fixed step with no holes. The store keeps samples
at ``knowledge.sample_every`` (10 s by default) for the retention period and hourly
roll-ups beyond it, and has gaps whenever the agent was not running. This module
averages the samples into buckets, fills buckets whose samples are gone from the hourly
roll-ups, interpolates short holes linearly and trims missing buckets at either end, so
the forecast's origin is the end of the last bucket that was actually observed.

A series is one ``(entity, key)``, as :attr:`setpoint.model.Sample.ident`: two services
each have a ``service.rss_bytes``, and they are never read together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from setpoint.analyze.base import FloatArray
from setpoint.analyze.forecasting.base import NotEnoughHistory
from setpoint.knowledge.base import SampleRepository
from setpoint.model import HOST

CHUNK = 6 * 3600.0
"""Samples are read six hours at a time, so a long history never sits in memory as objects."""

CHUNK_LIMIT = 200_000
"""Samples read per chunk at most: one every 0.1 s over six hours."""

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class RegularSeries:
    """One value per ``step`` seconds from ``start`` of ``key`` on ``entity``, without holes.

    ``filled`` counts the buckets that had no sample and were filled from the hourly
    roll-ups or by interpolation.

    >>> s = RegularSeries("host.load1", "host", 0.0, 900.0, np.array([1.0, 2.0]), 0)
    >>> s.end, len(s)
    (1800.0, 2)
    """

    key: str
    entity: str
    start: float
    step: float
    values: FloatArray
    filled: int

    @property
    def end(self) -> float:
        """The end of the last bucket: the time the forecast starts from."""
        return self.start + self.step * len(self.values)

    def __len__(self) -> int:
        return len(self.values)


def named(key: str, entity: str) -> str:
    """A series for people: its key and the entity it belongs to.

    >>> named("service.rss_bytes", "service:web")
    "'service.rss_bytes' on service:web"
    """
    return f"{key!r} on {entity}"


def span(seconds: float) -> str:
    """A duration for people, in the largest unit that divides it.

    >>> span(900.0), span(86400.0), span(5400.0), span(20.0)
    ('15m', '1d', '90m', '20s')
    """
    for unit, size in (("d", 86400.0), ("h", HOUR), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def add_to_buckets(
    sums: FloatArray,
    counts: FloatArray,
    ts: FloatArray,
    values: FloatArray,
    start: float,
    step: float,
) -> None:
    """Add readings to the ``sums`` and ``counts`` of buckets of ``step`` from ``start``.

    >>> sums, counts = np.zeros(3), np.zeros(3)
    >>> add_to_buckets(sums, counts, np.array([0.0, 1.0, 5.0, 99.0]), np.ones(4), 0.0, 2.0)
    >>> sums.tolist(), counts.tolist()
    ([2.0, 0.0, 1.0], [2.0, 0.0, 1.0])
    """
    n = sums.size
    index = np.floor((ts - start) / step).astype(np.int64)
    keep = (index >= 0) & (index < n) & np.isfinite(values)
    sums += np.bincount(index[keep], weights=values[keep], minlength=n)
    counts += np.bincount(index[keep], minlength=n)


def fill_from_hourly(
    means: FloatArray, start: float, step: float, hourly: dict[float, float]
) -> FloatArray:
    """Fill empty buckets with the average of the clock hour their middle falls in.

    >>> fill_from_hourly(np.array([np.nan, 1.0, np.nan]), 0.0, 1800.0, {0.0: 5.0})
    array([ 5.,  1., nan])
    """
    filled = means.copy()
    for i in np.flatnonzero(np.isnan(filled)):
        hour = np.floor((start + (i + 0.5) * step) / HOUR) * HOUR
        filled[i] = hourly.get(float(hour), np.nan)
    return filled


def close_gaps(means: FloatArray) -> tuple[FloatArray, int]:
    """Trim empty buckets at both ends and interpolate the holes left inside.

    Returns the values and the index of the first kept bucket.

    >>> close_gaps(np.array([np.nan, 1.0, np.nan, 3.0, np.nan]))
    (array([1., 2., 3.]), 1)
    """
    present = np.flatnonzero(np.isfinite(means))
    if present.size == 0:
        return np.empty(0), 0
    first, last = int(present[0]), int(present[-1])
    kept = means[first : last + 1]
    holes = np.isnan(kept)
    if holes.any():
        x = np.arange(kept.size)
        kept = kept.copy()
        kept[holes] = np.interp(x[holes], x[~holes], kept[~holes])
    return kept, first


def stored_means(
    samples: SampleRepository,
    key: str,
    start: float,
    stop: float,
    step: float,
    entity: str = HOST,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """The mean of ``key`` on ``entity`` per bucket in [start, stop), and which had samples.

    Buckets without samples take their hour's roll-up average, or NaN without one.
    """
    n = round((stop - start) / step)
    sums, counts = np.zeros(n), np.zeros(n)
    chunk_start = start
    while chunk_start < stop:
        chunk_end = min(chunk_start + CHUNK, stop)
        got = samples.query(
            key=key, entity=entity, start=chunk_start, end=chunk_end, limit=CHUNK_LIMIT
        )
        ts = np.fromiter((s.ts for s in got), float, len(got))
        values = np.fromiter((s.value for s in got), float, len(got))
        inside = ts < chunk_end
        add_to_buckets(sums, counts, ts[inside], values[inside], start, step)
        chunk_start = chunk_end
    means: FloatArray = np.full(n, np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    sampled = counts > 0
    if not sampled.all():
        hourly = {r.hour: r.avg for r in samples.hourly(key, start - HOUR, stop, entity)}
        means = fill_from_hourly(means, start, step, hourly)
    return means, sampled


def as_series(
    key: str,
    means: FloatArray,
    sampled: npt.NDArray[np.bool_],
    start: float,
    step: float,
    entity: str = HOST,
) -> RegularSeries:
    """The buckets from the first to the last with a value, holes interpolated.

    Raises :class:`NotEnoughHistory` when no bucket has a value.
    """
    values, first = close_gaps(means)
    if values.size == 0:
        raise NotEnoughHistory(
            f"the store holds no samples of {named(key, entity)}"
            f" in the last {span(means.size * step)}"
        )
    filled = int((~sampled[first : first + values.size]).sum())
    return RegularSeries(key, entity, start + first * step, step, values, filled)


def load_series(
    samples: SampleRepository,
    key: str,
    end: float,
    history: float,
    step: float,
    entity: str = HOST,
) -> RegularSeries:
    """The series ``key`` of ``entity`` over the ``history`` seconds of buckets before ``end``.

    Buckets are aligned to multiples of ``step`` since the epoch. Raises
    :class:`NotEnoughHistory` when the store holds nothing of the series in that time.
    """
    stop = aligned(end, step)
    start = stop - (history // step) * step
    means, sampled = stored_means(samples, key, start, stop, step, entity)
    return as_series(key, means, sampled, start, step, entity)


def aligned(ts: float, step: float) -> float:
    """The start of the bucket ``ts`` falls in, buckets being aligned to the epoch.

    >>> aligned(1000.0, 900.0)
    900.0
    """
    return float(np.floor(ts / step) * step)
