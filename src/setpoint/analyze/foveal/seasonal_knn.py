"""Distance to the normal rows seen at the same time of day (or of any season).

Server metrics follow the day: a load that is normal at noon is an anomaly at 3 a.m.,
and a row-by-row distance (:mod:`.knn`) cannot tell, because the row is close to some
normal row from another hour. When the training rows repeat with a clear period (their
autocorrelation, :func:`detect_period`), each row is compared only with the training
rows whose phase is within ``tolerance`` of a period of its own; otherwise with all of
them. The score is the mean distance to the ``neighbours`` nearest of those rows: a row
must resemble that hour on several days, not on one odd day. Scaling, reference cap and
causal smoothing are as in :mod:`.knn`.

The phase of a scored row counts on from the training rows: ``score`` takes its rows to
follow the fitted rows directly, at the same sampling interval, as the test rows follow
the training rows in ASD's layout.

On ASD (period detected as 288 rows, one day, in every entity): F1 0.555 against 0.500
for :mod:`.knn`; see ``docs/benchmarks.md``. The tolerance (2 hours of a day) and the
20 neighbours were chosen on ASD (0.54 to 0.56 for 1 to 2 hours and 5 to 40
neighbours), so the held-out server data is the honest test.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from setpoint.analyze.base import FloatArray
from setpoint.analyze.foveal.scaling import MinMax, causal_mean

CELLS = 1 << 22
"""Differences (rows x reference rows x features) held at once: 32 MB of scoring memory."""


def detect_period(rows: FloatArray, strength: float) -> int | None:
    """The lag (rows) after which ``rows`` repeat, or None when they do not clearly.

    The mean autocorrelation of the features is taken after its first drop below zero;
    its highest point up to a third of the rows is the period, if it reaches
    ``strength``. It is then refined on the last multiple of it within half the rows
    (a peak found at ``m`` periods is ``m`` times as precise) and rounded to whole rows.

    >>> t = np.arange(2000.0)
    >>> daily = np.column_stack([np.sin(2 * np.pi * t / 96), np.cos(2 * np.pi * t / 96)])
    >>> noise = np.random.default_rng(0).normal(size=(2000, 2))
    >>> detect_period(daily, 0.5), detect_period(noise, 0.5)
    (96, None)
    """
    count = int(rows.shape[0])
    centred = rows - rows.mean(axis=0)
    moving = centred[:, (centred**2).sum(axis=0) > 0]
    if moving.shape[1] == 0 or count < 6:
        return None
    power = np.abs(np.fft.rfft(moving, n=2 * count, axis=0)) ** 2
    covariance = np.fft.irfft(power, axis=0)[:count]
    acf = (covariance / covariance[0]).mean(axis=1)
    negative = np.flatnonzero(acf[: count // 3 + 1] < 0)
    if negative.size == 0:
        return None
    first = int(negative[0])
    lag = first + int(np.argmax(acf[first : count // 3 + 1]))
    if float(acf[lag]) < strength:
        return None
    multiple = (count // 2) // lag
    low, high = multiple * lag - lag // 4, min(multiple * lag + lag // 4, count - 1)
    peak = low + int(np.argmax(acf[low : high + 1]))
    return max(2, round(peak / multiple))


def nearest(rows: FloatArray, reference: FloatArray, k: int) -> FloatArray:
    """The mean Euclidean distance of each row to its ``k`` nearest reference rows.

    Each distance is computed from the differences (no dot-product shortcut), so a
    row's result does not depend on which other rows are scored with it.

    >>> reference = np.array([[0.0, 1.0], [3.0, 0.0]])
    >>> nearest(np.array([[0.0, 0.0], [3.0, 4.0]]), reference, 1).tolist()
    [1.0, 4.0]
    >>> nearest(np.array([[0.0, 0.0]]), reference, 5).tolist()
    [2.0]
    """
    k = min(k, reference.shape[0])
    out = np.empty(rows.shape[0])
    step = max(1, CELLS // max(1, reference.shape[0] * reference.shape[1]))
    for start in range(0, rows.shape[0], step):
        diff = rows[start : start + step, None, :] - reference[None, :, :]
        squared = np.partition(np.einsum("ijk,ijk->ij", diff, diff), k - 1, axis=1)[:, :k]
        out[start : start + step] = np.sqrt(squared).mean(axis=1)
    return out


class SeasonalNeighbour:
    """Mean distance to the nearest training rows of about the same phase, smoothed.

    >>> t = np.arange(960.0)
    >>> load = np.sin(2 * np.pi * t / 96)[:, None]
    >>> d = SeasonalNeighbour(SeasonalNeighbour.Config(window=1))
    >>> d.fit(load[:768])
    >>> d.period
    96
    >>> on_time, off_time = d.score(load[768:]), d.score(-load[768:])
    >>> bool(off_time.mean() > 10 * on_time.mean())
    True
    """

    class Config(BaseModel):
        """Period (rows, or detected), phase tolerance, neighbours, smoothing, sampling."""

        model_config = ConfigDict(frozen=True, extra="forbid")
        period: int | None = Field(None, ge=2, description="Rows per season; None: detect.")
        tolerance: float = Field(
            1 / 12, ge=0.0, le=0.5, description="Phase distance compared, in periods."
        )
        strength: float = Field(
            0.5, gt=0.0, le=1.0, description="Autocorrelation a detected period needs."
        )
        neighbours: int = Field(20, ge=1, description="Nearest rows the distance averages.")
        window: int = Field(5, ge=1, description="Rows the score is averaged over.")
        max_reference: int = Field(10_000, ge=1)
        seed: int = 0

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self.period: int | None = None
        self._scaling: MinMax | None = None
        self._reference: FloatArray | None = None
        self._phases = np.zeros(0, dtype=np.int_)
        self._next_phase = 0

    def fit(self, train: FloatArray) -> None:
        """Keep (a sample of) the scaled training rows and the phase of each."""
        self._scaling = MinMax.fit(train)
        rows = self._scaling.transform(train)
        count = int(rows.shape[0])
        self.period = self.config.period or detect_period(rows, self.config.strength)
        keep = np.arange(count)
        if count > self.config.max_reference:
            rng = np.random.default_rng(self.config.seed)
            keep = np.sort(rng.choice(count, self.config.max_reference, replace=False))
        self._reference = rows[keep]
        self._phases = keep % self.period if self.period else np.zeros_like(keep)
        self._next_phase = count % self.period if self.period else 0

    def score(self, rows: FloatArray) -> FloatArray:
        """Causally averaged distance of each row to its nearest same-phase train rows."""
        if self._scaling is None or self._reference is None:
            raise RuntimeError("SeasonalNeighbour.score before fit")
        scaled = self._scaling.transform(rows)
        if self.period is None:
            distances = nearest(scaled, self._reference, self.config.neighbours)
            return causal_mean(distances, self.config.window)
        period = self.period
        phases = (self._next_phase + np.arange(rows.shape[0])) % period
        distances = np.empty(rows.shape[0])
        for phase in np.unique(phases):
            apart = (self._phases - phase) % period
            near = np.minimum(apart, period - apart) <= self.config.tolerance * period
            at = phases == phase
            reference = self._reference[near] if near.any() else self._reference
            distances[at] = nearest(scaled[at], reference, self.config.neighbours)
        return causal_mean(distances, self.config.window)
