"""What each phase of the day looked like on the previous days, from timestamps.

The day is cut into buckets one sampling step wide (the median of the first gaps
between timestamps, at least a minute); each (day, bucket) keeps the sum and count of
its values. The expected value of a new observation is the median, over the previous
``days`` days, of its bucket's mean: a daily wave, or a weekday pattern on most days,
is expected; a value that is routine for the series but not for the hour is not.
Memory holds at most ``days + 1`` days of buckets.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

TIME = "ts"
"""The feature carrying an observation's time, in seconds since the epoch."""

DAY = 86_400.0
_GAPS = 32
_MIN_STEP = 60.0
_MIN_BUCKETS = 4


def time_of(x: Mapping[str, float]) -> float | None:
    """The finite :data:`TIME` of ``x``, or None when it is missing or not finite.

    >>> time_of({TIME: 60.0}), time_of({}), time_of({TIME: float("nan")})
    (60.0, None, None)
    """
    t = x.get(TIME)
    if t is None:
        return None
    t = float(t)
    return t if math.isfinite(t) else None


class DailyProfile:
    """Per-bucket means of the last ``days`` days, keyed by time of day.

    >>> p = DailyProfile(days=3)
    >>> for t in range(0, 3 * 86_400, 3_600):  # hourly: 1.0 at night, 5.0 by day
    ...     p.learn(1.0 if (t % 86_400) < 43_200 else 5.0, float(t))
    >>> p.expected(3 * 86_400 + 3_600.0), p.expected(3 * 86_400 + 50_000.0)
    (1.0, 5.0)
    """

    def __init__(self, days: int) -> None:
        self.days = days
        self._gaps: list[float] = []
        self._last_ts: float | None = None
        self._step: float | None = None
        self._day = 0
        self._sums: dict[tuple[int, int], list[float]] = {}

    def _key(self, ts: float, step: float) -> tuple[int, int]:
        return int(ts // DAY), int((ts % DAY) // step)

    def expected(self, ts: float | None) -> float | None:
        """The median of this phase's mean over the previous days; None when unknown."""
        if ts is None or self._step is None:
            return None
        day, bucket = self._key(ts, self._step)
        means = []
        for back in range(1, self.days + 1):
            got = self._sums.get((day - back, bucket))
            if got is not None:
                means.append(got[0] / got[1])
        return statistics.median(means) if means else None

    def learn(self, value: float, ts: float | None) -> None:
        """Fold ``value`` observed at ``ts`` into its day and bucket."""
        if ts is None:
            return
        if self._step is None:
            self._learn_step(ts)
            return
        day, bucket = self._key(ts, self._step)
        got = self._sums.setdefault((day, bucket), [0.0, 0.0])
        got[0] += value
        got[1] += 1.0
        if day > self._day:  # a new day: forget the ones no longer looked at
            self._day = day
            for key in [k for k in self._sums if k[0] < day - self.days]:
                del self._sums[key]

    def _learn_step(self, ts: float) -> None:
        if self._last_ts is not None and ts > self._last_ts:
            self._gaps.append(ts - self._last_ts)
        self._last_ts = ts
        if len(self._gaps) < _GAPS:
            return
        step = max(statistics.median(self._gaps), _MIN_STEP)
        if DAY / step >= _MIN_BUCKETS:
            self._step = step
        self._gaps = []  # too coarse for a daily profile: measure again

    def get_state(self) -> dict[str, Any]:
        """What was learned, JSON-serialisable."""
        return {
            "gaps": list(self._gaps),
            "last_ts": self._last_ts,
            "step": self._step,
            "day": self._day,
            "sums": [[d, b, s, n] for (d, b), (s, n) in self._sums.items()],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""
        self._gaps = [float(g) for g in state["gaps"]]
        self._last_ts = None if state["last_ts"] is None else float(state["last_ts"])
        self._step = None if state["step"] is None else float(state["step"])
        self._day = int(state["day"])
        self._sums = {(int(d), int(b)): [float(s), float(n)] for d, b, s, n in state["sums"]}
