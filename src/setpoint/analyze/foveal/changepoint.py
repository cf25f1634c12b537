"""Change points on one series' recent history: a sustained degradation is a symptom.

Segmentation is PELT on the l2 cost (a change in mean), run by ruptures' ``KernelCPD``
with the linear kernel: the same optimal segmentation as ``Pelt(model="l2")``, in C.
On 600 points (a step and a 5 s burst, every index a candidate) it takes 0.5 ms of
CPU where the Python ``Pelt(model="l2")`` takes 0.8 s, ``Binseg`` 38 ms and ``Window``
22 ms, the last misplacing the burst by 8 to 15 points (``bench/foveal.py``). The
series is first divided by its noise, a robust sigma of its first differences (a step
does not inflate it), so that one penalty, ``penalty * log(n)``, suits every series.

A change point starts a degradation when, after at least ``sustain`` seconds of
history, every segment since it is worse than the old level by more than half the
threshold (noise that cuts the new level in pieces does not matter, a return to normal
does), the new level has lasted ``sustain`` seconds, and its median is worse than the old
level by more than ``threshold``, in the direction that is bad for the series
(:meth:`~setpoint.config.foveal.ChangePointConfig.worse`). The old level is the median
of everything before the change, so a short burst is not taken for the old normal; the
earliest such change point is the onset. Segment levels are medians too: a series read
less often than every tick (a probe every 15 s) has few points, a segment may straddle
its change, and a few new points must not make the old ones look worse. It clears once
the median of the newest ``clear_after`` readings since the change is back within half
the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import ruptures

from setpoint.analyze.base import FloatArray
from setpoint.config.foveal import ChangePointConfig, Worse

MODEL = "ruptures.KernelCPD(linear, pelt)"
"""What the evidence names as the model: PELT on the l2 cost."""


@dataclass(frozen=True, slots=True)
class Degradation:
    """A series' level that changed for the worse and stayed there."""

    series: str
    worse: Worse
    changed_at: float
    before: float
    after: float
    scale: float
    """What the relative change is relative to: ``|before|``, or the noise if larger."""
    relative: float
    """How much worse, as a share of ``scale`` (positive: worse)."""
    lasted: float

    def badness(self, level: float) -> float:
        """How much worse ``level`` is than the old level, as a share of :attr:`scale`."""
        sign = 1.0 if self.worse == "up" else -1.0
        return sign * (level - self.before) / self.scale

    def evidence(self, threshold: float) -> dict[str, Any]:
        """What ``setpoint explain`` shows: the two levels, when, by how much, and why."""
        band = threshold * self.scale
        rose = "rose" if self.after > self.before else "fell"
        return {
            "series": self.series,
            "value": _round(self.after),
            "expected": _round(self.before),
            "expected_range": [_round(self.before - band), _round(self.before + band)],
            "before": _round(self.before),
            "after": _round(self.after),
            "changed_at": self.changed_at,
            "relative_change": round(self.relative, 4),
            "worse": self.worse,
            "model": MODEL,
            "reason": (
                f"{self.series} {rose} {self.relative:.0%} (worse is {self.worse}) "
                f"and stayed there {self.lasted:.0f} s"
            ),
        }


class ChangePoints:
    """Finds sustained degradations in one series at a time.

    >>> cp = ChangePoints(ChangePointConfig(sustain=30.0))
    >>> rng = np.random.default_rng(0)
    >>> latency = np.r_[rng.normal(100, 2, 200), rng.normal(150, 2, 60)]
    >>> d = cp.detect("web.latency", np.arange(260.0), latency, "up")
    >>> d.changed_at, round(d.relative, 1)
    (200.0, 0.5)
    >>> cp.detect("web.latency", np.arange(260.0), latency, "down") is None
    True
    """

    def __init__(self, config: ChangePointConfig) -> None:
        self.config = config

    def detect(
        self, series: str, ts: FloatArray, values: FloatArray, worse: Worse
    ) -> Degradation | None:
        """The degradation the newest values of the series are, if they are one."""
        c = self.config
        finite = np.isfinite(values)
        ts, x = ts[finite], values[finite]
        if x.size < 2 * c.min_size or ts[-1] - ts[0] < 2 * c.sustain:
            return None
        sigma = _noise(x)
        sign = 1.0 if worse == "up" else -1.0
        starts = self._segments(x, sigma)
        ends = [*starts[1:], x.size]
        levels = [float(np.median(x[b:e])) for b, e in zip(starts, ends, strict=True)]
        for i in range(1, len(starts)):
            start = starts[i]
            if ts[start] - ts[0] < c.sustain:
                continue
            if ts[-1] - ts[start] < c.sustain:
                break
            before = float(np.median(x[:start]))
            scale = max(abs(before), sigma)
            if min(sign * (m - before) for m in levels[i:]) <= 0.5 * c.threshold * scale:
                continue
            after = float(np.median(x[start:]))
            relative = sign * (after - before) / scale
            if relative > c.threshold:
                lasted = float(ts[-1] - ts[start])
                return Degradation(
                    series, worse, float(ts[start]), before, after, scale, relative, lasted
                )
        return None

    def _segments(self, x: FloatArray, sigma: float) -> list[int]:
        """Where each segment of ``x`` starts (PELT, l2 cost, noise-scaled)."""
        c = self.config
        z = ((x - np.median(x)) / sigma).reshape(-1, 1)
        algo = ruptures.KernelCPD(kernel="linear", min_size=c.min_size).fit(z)
        ends = algo.predict(pen=c.penalty * math.log(x.size))
        return [0, *(int(b) for b in ends[:-1])]

    def recovered(self, degradation: Degradation, ts: FloatArray, values: FloatArray) -> bool:
        """True once the newest ``clear_after`` readings since the change are back.

        Back means near the old level. Readings, not ticks, and none from before the
        change: a series read less often than every tick (a probe every 15 s) is judged
        on its own points, so a degradation neither clears on the gaps between them nor
        on the old level's points, and fires again. A series that stopped reporting has
        recovered once its readings have left the history: nothing is left to judge.
        """
        since = np.isfinite(values) & (ts >= degradation.changed_at)
        recent = values[since][-self.config.clear_after :]
        if recent.size == 0:
            return True
        return degradation.badness(float(np.median(recent))) < 0.5 * self.config.threshold


def _noise(x: FloatArray) -> float:
    """A robust sigma of ``x`` from its first differences, floored at 0.1 % of its level."""
    diffs = np.diff(x)
    mad = float(np.median(np.abs(diffs - np.median(diffs))))
    return max(1.4826 * mad / math.sqrt(2.0), 1e-3 * float(np.median(np.abs(x))), 1e-9)


def _round(x: float) -> float:
    """Six significant digits: evidence is read by people."""
    return float(f"{x:.6g}")
