"""Onsets of surprise seen by four experts: level, step, time of day and shift.

Each observation is compared four ways against robust rolling baselines: its value
(a level out of the usual range), its step from the previous value (a spike, a jump),
its residual from what the same time of day looked like on the previous days
(:class:`~setpoint.analyze.daily.DailyProfile`: a value routine for the series but not
for the hour, such as a missing daily peak), and the shift of the median of the last
``shift`` values from the median of the ``reference`` values before them, against the
past shifts (a sustained change of level too small to stand out point by point in a
noisy series, such as a CPU or latency metric settling higher). Each expert's robust z
is calibrated by its own history: with ``r`` the share of its last ``history`` z-scores
below ``z``, the surprise is ``-log((1 - r) + r exp(-z²/2))``. A z above the whole
history keeps its Gaussian surprise ``z²/2``; one that the history has matched is held
near ``-log(1 - r)``, at most ``log(history)``. So a series with routine large swings
must exceed its own routine (a daily ramp or a nightly job is a routine shift), and a
quiet one still needs a real z. The score is the largest surprise of the four (a log
scale, unbounded).

An alarm costs the operator every time it is raised, so only onsets are reported: a
score counts when it beats every score of the last ``quiet`` observations, else it is
0; a long excursion costs one alarm unless it grows. A level shift grows while the
short window fills with the new level, so it may alarm again within ``shift``
observations of its onset, then falls silent. On the NAB dev subset the shift expert
took the score from 71.0 to 77.4 (Standard; ``docs/benchmarks.md``). Every value is
learned (callers that want the baseline protected use
:func:`~setpoint.analyze.base.protected_step`): a lasting change becomes the new normal
as the windows turn over.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from setpoint.analyze.base import value_of
from setpoint.analyze.daily import DailyProfile, time_of
from setpoint.analyze.sorted_window import SortedWindow
from setpoint.errors import KnowledgeError

_STATE_VERSION = 2
_EXPERTS = ("value", "step", "daily", "shift")
_Z_CAP = 1e100  # z²/2 stays finite; a lower cap would tie the jumps of flat series
_IQR_TO_SIGMA = 1.349


def calibrated(z: float, rank: float) -> float:
    """``-log((1 - rank) + rank exp(-z²/2))``: the surprise of ``z`` beating ``rank``.

    >>> calibrated(4.0, 1.0), round(calibrated(4.0, 0.5), 3), calibrated(0.0, 0.9)
    (8.0, 0.693, 0.0)
    """
    if rank >= 1.0:
        return 0.5 * z * z
    return math.log(1.0 / ((1.0 - rank) + rank * math.exp(-0.5 * z * z)))


def median_with(ordered: list[float], v: float) -> float:
    """The median of the sorted ``ordered`` with ``v`` added, without copying it.

    >>> median_with([1.0, 2.0, 9.0], 3.0), median_with([1.0, 2.0], 0.0)
    (2.5, 1.0)
    """
    n, at_v = len(ordered) + 1, bisect.bisect_left(ordered, v)

    def at(j: int) -> float:
        return ordered[j] if j < at_v else v if j == at_v else ordered[j - 1]

    return 0.5 * (at((n - 1) // 2) + at(n // 2))


class Shift:
    """The median of the last ``short`` values minus the median of the ``reference`` before.

    >>> s = Shift(short=3, reference=4)
    >>> for v in [1.0, 1.0, 1.0, 1.0, 5.0, 5.0]:
    ...     s.push(v)
    >>> s.of(5.0)  # the last three are 5, the four before them 1
    4.0
    """

    def __init__(self, short: int, reference: int) -> None:
        self._short = SortedWindow(short - 1)
        self._reference = SortedWindow(reference)

    def of(self, v: float) -> float | None:
        """The shift if ``v`` came next; None until the reference is full."""
        ref, n = self._reference.sorted, len(self._reference)
        if n < self._reference.size:
            return None
        return median_with(self._short.sorted, v) - 0.5 * (ref[(n - 1) // 2] + ref[n // 2])

    def push(self, v: float) -> None:
        """Take ``v``; the oldest of the short window moves into the reference."""
        if len(self._short) == self._short.size:
            self._reference.push(self._short.order[0])
        self._short.push(v)

    def get_state(self) -> dict[str, list[float]]:
        """Both windows in arrival order."""
        return {"short": list(self._short.order), "reference": list(self._reference.order)}

    def set_state(self, state: dict[str, list[float]]) -> None:
        """Restore what :meth:`get_state` returned."""
        self._short.load([float(v) for v in state["short"]])
        self._reference.load([float(v) for v in state["reference"]])


class Onset:
    """Reports the onset of each surprise, on a log scale; 0 elsewhere.

    >>> d = Onset(Onset.Config(warmup=20, window=50, history=50, quiet=10))
    >>> scores = []
    >>> for i in range(60):
    ...     x = {"value": 10.0 + (i % 3) + (30.0 if i >= 50 else 0.0)}
    ...     scores.append(d.score_one(x))
    ...     d.learn_one(x)
    >>> max(scores[:50]) < 3, scores[50] > 100, max(scores[51:])
    (True, True, 0.0)
    """

    class Config(BaseModel):
        """Parameters of the onset detector."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        window: int = Field(1600, ge=10, description="observations the baselines hold")
        history: int = Field(5000, ge=10, description="z-scores each calibration holds")
        warmup: int = Field(100, ge=3, description="observations before scoring")
        quiet: int = Field(300, ge=1, description="observations an onset outranks")
        days: int = Field(7, ge=1, description="previous days the daily expert looks at")
        daily_min: int = Field(
            50, ge=1, description="residuals (shifts) before the daily (shift) expert scores"
        )
        rel_floor: float = Field(0.001, ge=0, description="scale floor, share of |median|")
        shift: int = Field(32, ge=0, description="recent values of the shift expert; 0: off")
        reference: int = Field(192, ge=1, description="values before them it compares with")

        @field_validator("shift")
        @classmethod
        def _not_one(cls, v: int) -> int:
            if v == 1:
                raise ValueError(
                    "shift must be 0 (off) or at least 2: one value is the value expert"
                )
            return v

    def __init__(self, config: Config | None = None) -> None:
        self.config = c = config or self.Config()
        self.warmup = c.warmup
        self._values = SortedWindow(c.window)
        self._steps = SortedWindow(c.window)
        self._residuals = SortedWindow(c.window)
        self._shift = Shift(c.shift, c.reference) if c.shift else None
        self._shifts = SortedWindow(c.window)
        self._history = {name: SortedWindow(c.history) for name in _EXPERTS}
        self._daily = DailyProfile(c.days)
        self._recent: deque[float] = deque(maxlen=c.quiet)
        self._last: float | None = None
        self._seen = 0

    def _zs(self, v: float, ts: float | None) -> dict[str, float]:
        """Each expert's robust z for ``v``; none before warm-up."""
        if self._seen < self.warmup or self._last is None:
            return {}
        floor = self.config.rel_floor
        expected = self._daily.expected(ts)
        daily = (
            self._residuals.z(v - expected, floor)
            if expected is not None and len(self._residuals) >= self.config.daily_min
            else 0.0
        )
        zs = {
            "value": self._values.z(v, floor),
            "step": self._steps.z(v - self._last, floor),
            "daily": daily,
            "shift": self._shift_z(v),
        }
        return {name: min(z, _Z_CAP) for name, z in zs.items()}

    def _shift_z(self, v: float) -> float:
        """Robust z of the shift ``v`` would make against the past shifts.

        The scale is floored like the value's, at ``rel_floor`` of the median value, so
        a flat series does not turn a rounding step into a huge z.
        """
        shift = None if self._shift is None else self._shift.of(v)
        past, n = self._shifts.sorted, len(self._shifts)
        if shift is None or n < self.config.daily_min:
            return 0.0
        values, m = self._values.sorted, len(self._values)
        level = 0.5 * (values[(m - 1) // 2] + values[m // 2])
        median = 0.5 * (past[(n - 1) // 2] + past[n // 2])
        spread = (past[(3 * n) // 4] - past[n // 4]) / _IQR_TO_SIGMA
        return abs(shift - median) / max(spread, self.config.rel_floor * abs(level), 1e-9)

    def _surprise(self, zs: dict[str, float]) -> float:
        ranked = (calibrated(z, self._history[name].rank(z)) for name, z in zs.items())
        return max(ranked, default=0.0)

    def score_one(self, x: Mapping[str, float]) -> float:
        """The surprise of ``x`` if it outranks the recent ones, else 0."""
        v = value_of(x)
        if v is None:
            return 0.0
        s = self._surprise(self._zs(v, time_of(x)))
        return s if not self._recent or s > max(self._recent) else 0.0

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Take ``x`` into the baselines, the calibrations and the daily profile."""
        v = value_of(x)
        if v is None:
            return
        ts = time_of(x)
        zs = self._zs(v, ts)
        s = self._surprise(zs)
        for name, z in zs.items():
            self._history[name].push(z)
        self._recent.append(s)
        expected = self._daily.expected(ts)
        if expected is not None:
            self._residuals.push(v - expected)
        if self._last is not None:
            self._steps.push(v - self._last)
        if self._shift is not None:
            shift = self._shift.of(v)
            if shift is not None:
                self._shifts.push(shift)
            self._shift.push(v)
        self._values.push(v)
        self._daily.learn(v, ts)
        self._last = v
        self._seen += 1

    def get_state(self) -> dict[str, Any]:
        """What was learned, versioned and JSON-serialisable."""
        return {
            "version": _STATE_VERSION,
            "values": list(self._values.order),
            "steps": list(self._steps.order),
            "residuals": list(self._residuals.order),
            "shift": None if self._shift is None else self._shift.get_state(),
            "shifts": list(self._shifts.order),
            "history": {name: list(w.order) for name, w in self._history.items()},
            "recent": list(self._recent),
            "daily": self._daily.get_state(),
            "last": self._last,
            "seen": self._seen,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`get_state`."""
        if state.get("version") != _STATE_VERSION:
            raise KnowledgeError(f"onset state version {state.get('version')!r}")
        self._values.load([float(v) for v in state["values"]])
        self._steps.load([float(v) for v in state["steps"]])
        self._residuals.load([float(v) for v in state["residuals"]])
        if self._shift is not None and state["shift"] is not None:
            self._shift.set_state(state["shift"])
        self._shifts.load([float(v) for v in state["shifts"]])
        for name, window in self._history.items():
            window.load([float(v) for v in state["history"][name]])
        self._recent = deque((float(v) for v in state["recent"]), maxlen=self.config.quiet)
        self._daily.set_state(state["daily"])
        self._last = None if state["last"] is None else float(state["last"])
        self._seen = int(state["seen"])
