"""What each phase of a period (a day, a week) looked like in the previous periods.

The period is cut into buckets; for each series and bucket the envelope keeps the
lowest and highest raw value seen in each of the last two complete periods and the
current one (a ring of three slots). A value counts as seasonal when it lies inside
the envelope of its bucket (widened to the neighbouring buckets, for jitter) in
*every* kept period: behaviour seen at that phase once is not yet a pattern, but the
6 a.m. cron job seen at 6 a.m. on each of the last two days is.

Raw values are recorded, not the winsorised ones the recent baseline learns, because
a recurring burst is exactly what the recent baseline would cut off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from setpoint.analyze.base import FloatArray
from setpoint.analyze.snapshot import array, json_field

IntArray = npt.NDArray[np.int64]

_SLOTS = 3
_KEPT = 2


class SeasonalEnvelope:
    """Per-bucket min/max of ``capacity`` series over the last periods of ``period`` s.

    >>> env = SeasonalEnvelope(period=100.0, buckets=10, capacity=1)
    >>> rows = np.array([0])
    >>> for day in range(3):
    ...     env.new_rows(rows, 0.0) if day == 0 else None
    ...     for t in range(0, 100, 5):
    ...         env.fold(rows, np.full(1, 5.0 if t == 50 else 1.0), 100.0 * day + t)
    >>> env.distance(rows, np.array([5.0]), 350.0).tolist()  # the burst recurs at phase 50
    [0.0]
    >>> env.distance(rows, np.array([5.0]), 320.0).tolist()  # but not at phase 20
    [4.0]
    """

    def __init__(self, period: float, buckets: int, capacity: int) -> None:
        self.period = period
        self.buckets = buckets
        self._lo = np.full((_SLOTS, buckets, capacity), np.inf)
        self._hi = np.full((_SLOTS, buckets, capacity), -np.inf)
        self._born = np.zeros(capacity, dtype=np.int64)
        self._current = -1

    @classmethod
    def restored(
        cls, period: float, buckets: int, state: Mapping[str, Any], n: int
    ) -> SeasonalEnvelope:
        """An envelope of ``n`` series holding what :meth:`get_state` returned.

        Raises KnowledgeError when ``state`` does not fit ``buckets`` and ``n``.
        """
        env = cls(period, buckets, 0)
        env._lo = array(state, "lo", np.float64, (_SLOTS, buckets, n))
        env._hi = array(state, "hi", np.float64, (_SLOTS, buckets, n))
        env._born = array(state, "born", np.int64, (n,))
        env._current = json_field(state, "current", int)
        return env

    def get_state(self, n: int) -> dict[str, Any]:
        """Copies of what the first ``n`` series learned, and the newest period folded."""
        return {
            "lo": self._lo[:, :, :n].copy(),
            "hi": self._hi[:, :, :n].copy(),
            "born": self._born[:n].copy(),
            "current": self._current,
        }

    def grow(self, capacity: int) -> None:
        """Make room for ``capacity`` series."""
        extra = capacity - self._born.size
        self._lo = np.concatenate([self._lo, np.full((_SLOTS, self.buckets, extra), np.inf)], 2)
        self._hi = np.concatenate([self._hi, np.full((_SLOTS, self.buckets, extra), -np.inf)], 2)
        self._born = np.concatenate([self._born, np.zeros(extra, dtype=np.int64)])

    def new_rows(self, rows: IntArray, ts: float) -> None:
        """Series first seen at ``ts``: their history starts in this period."""
        self._born[rows] = int(ts // self.period)
        self._lo[:, :, rows] = np.inf
        self._hi[:, :, rows] = -np.inf

    def _advance(self, period: int) -> None:
        if period - self._current >= _SLOTS:  # every slot is stale: clear them at once
            self._lo[:] = np.inf
            self._hi[:] = -np.inf
            self._current = period
            return
        while self._current < period:
            self._current += 1
            self._lo[self._current % _SLOTS] = np.inf
            self._hi[self._current % _SLOTS] = -np.inf

    def fold(self, rows: IntArray, values: FloatArray, ts: float) -> None:
        """Record ``values`` of ``rows`` observed at ``ts`` (times only move forward)."""
        period = int(ts // self.period)
        self._advance(period)
        slot, bucket = period % _SLOTS, self._bucket(ts)
        np.minimum.at(self._lo[slot, bucket], rows, values)
        np.maximum.at(self._hi[slot, bucket], rows, values)

    def _bucket(self, ts: float) -> int:
        return int((ts % self.period) / self.period * self.buckets) % self.buckets

    def distance(self, rows: IntArray, values: FloatArray, ts: float) -> FloatArray:
        """How far each value lies outside its phase's envelope; inf without 2 periods."""
        period = int(ts // self.period)
        b = self._bucket(ts)
        near = [(b - 1) % self.buckets, b, (b + 1) % self.buckets]
        lo = np.full(rows.size, -np.inf)
        hi = np.full(rows.size, np.inf)
        for back in range(1, _KEPT + 1):
            slot = (period - back) % _SLOTS
            lo = np.maximum(lo, self._lo[slot][near][:, rows].min(axis=0))
            hi = np.minimum(hi, self._hi[slot][near][:, rows].max(axis=0))
        outside = np.maximum(np.maximum(values - hi, lo - values), 0.0)
        known = (period - self._born[rows] > _KEPT) & (period - 1 <= self._current)
        return np.where(known & np.isfinite(outside), outside, np.inf)
