"""Robust trends toward a limit: when will a headroom series reach zero, and how sure is it.

A *headroom* is the distance left to a limit (free disk bytes, available memory, fds
left before ``RLIMIT_NOFILE``); it falls toward zero as a resource is exhausted. The
slope is Theil-Sen's (the median of every pairwise slope), so one outlier or a short
burst cannot tilt it, and its 95 % interval is Sen's: the order statistics of the
pairwise slopes around the median, from Kendall's rank variance (what
``scipy.stats.theilslopes`` reports).

A trend is *sustained* only when all of these hold over the window it is fitted on:

- every one of ``subwindows`` consecutive slices falls, each by at least ``sub_ratio``
  of the whole slope: a step (log rotation, a package unpacked) is flat in all slices
  but one, and a burst that is freed again rises in its last slice;
- the straight line explains the points (R² >= ``r2_min``);
- it has lasted at least ``min_duration`` seconds and ``duration_fraction`` of the ETA it
  claims: the nearer a prediction, the less history it may rest on, but a burst never
  lasts long enough to claim the limit.

Windows start where the fall began (the knee of a flat-then-falling fit, :func:`onset`),
so a fill or a leak that starts after a quiet spell is found as soon as it has lasted
long enough, not when a grid window happens to fit it, and its ETA is not bent by the
flat stretch before it: every window of a grid is cut at its knee, and the longest that
holds a sustained trend is chosen. When that window bends
down (an accelerating fill) and a parabola fits clearly better, the ETA is the
parabola's root.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

_Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True, slots=True)
class TrendPolicy:
    """What a trend must show before it may predict exhaustion."""

    min_duration: float = 30.0
    min_points: int = 8
    duration_fraction: float = 0.2
    r2_min: float = 0.8
    subwindows: int = 4
    sub_ratio: float = 0.25


@dataclass(frozen=True, slots=True)
class Trend:
    """A sustained fall of a headroom series and when it reaches zero.

    ``slope`` is in units per second (negative: falling); ``level`` is the fitted
    headroom at the last point, whose time is ``at``; ``eta`` and its interval are
    seconds from it; ``model`` is ``theil-sen`` or ``quadratic`` (accelerating).
    """

    slope: float
    slope_low: float
    slope_high: float
    level: float
    eta: float
    eta_low: float
    eta_high: float
    r2: float
    duration: float
    points: int
    model: str
    at: float = 0.0


def theil_sen(t: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float, float]:
    """Theil-Sen slope of ``y`` over ``t`` and Sen's 95 % interval of it.

    >>> t = np.arange(10.0)
    >>> slope, low, high = theil_sen(t, 3 - 2 * t)
    >>> slope, low <= slope <= high
    (-2.0, True)
    """
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    keep = dt > 0
    slopes = np.sort((y[j] - y[i])[keep] / dt[keep])
    count = len(slopes)
    if count == 0:
        return 0.0, 0.0, 0.0
    n = len(t)
    spread = _Z95 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    low = int(max(0, math.floor((count - spread) / 2)))
    high = int(min(count - 1, math.ceil((count + spread) / 2)))
    return float(np.median(slopes)), float(slopes[low]), float(slopes[high])


def _r2(t: NDArray[np.float64], y: NDArray[np.float64], slope: float, icept: float) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0.0:
        return 0.0
    return 1.0 - float(np.sum((y - (icept + slope * t)) ** 2)) / total


def _consistent(
    t: NDArray[np.float64], y: NDArray[np.float64], slope: float, policy: TrendPolicy
) -> bool:
    """Every slice falls by at least ``sub_ratio`` of the whole slope (see module)."""
    for idx in np.array_split(np.arange(len(t)), policy.subwindows):
        if len(idx) < 2:
            return False
        sub, _, _ = theil_sen(t[idx], y[idx])
        if sub > slope * policy.sub_ratio:
            return False
    return True


def _quadratic_eta(t: NDArray[np.float64], y: NDArray[np.float64], linear_rss: float) -> float:
    """Root of a parabola that fits much better than the line and bends down; else inf."""
    coef, residuals, *_ = np.polyfit(t, y, 2, full=True)
    rss = float(residuals[0]) if len(residuals) else 0.0
    a, b, c = (float(v) for v in coef)
    if a >= 0 or rss > 0.5 * linear_rss:
        return math.inf
    disc = b * b - 4 * a * c
    if disc < 0:
        return math.inf
    roots = [(-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)]
    ahead = [r for r in roots if r > 0]
    return min(ahead) if ahead else math.inf


def _fit(t: NDArray[np.float64], y: NDArray[np.float64], policy: TrendPolicy) -> Trend | None:
    slope, low, high = theil_sen(t, y)
    if slope >= 0:
        return None
    icept = float(np.median(y - slope * t))
    level = icept + slope * float(t[-1])
    duration = float(t[-1] - t[0])
    eta = max(level, 0.0) / -slope
    r2 = _r2(t, y, slope, icept)
    if r2 < policy.r2_min or duration < max(policy.min_duration, policy.duration_fraction * eta):
        return None
    if not _consistent(t, y, slope, policy):
        return None
    model = "theil-sen"
    eta_low = max(level, 0.0) / -low if low < 0 else math.inf
    eta_high = max(level, 0.0) / -high if high < 0 else math.inf
    rel = t - t[-1]
    linear_rss = float(np.sum((y - (level + slope * rel)) ** 2))
    bent = _quadratic_eta(rel, y, linear_rss)
    if bent < eta:
        ratio = bent / eta if eta > 0 else 1.0
        eta, eta_low, eta_high = bent, eta_low * ratio, eta_high * ratio
        model = "quadratic"
    return Trend(slope, low, high, level, eta, eta_low, eta_high, r2, duration, len(t), model)


def _falls_straight(t: NDArray[np.float64], y: NDArray[np.float64], r2_min: float) -> bool:
    """Least squares in closed form: falling, with R² of at least ``r2_min``."""
    dt, dy = t - t.mean(), y - y.mean()
    sxx, syy, sxy = float(dt @ dt), float(dy @ dy), float(dt @ dy)
    return sxx > 0 and syy > 0 and sxy < 0 and sxy * sxy >= r2_min * sxx * syy


def onset(t: NDArray[np.float64], y: NDArray[np.float64], min_points: int) -> int:
    """Index where ``y`` most likely began to fall: the knee of a flat-then-linear fit.

    Every knee leaving at least ``min_points`` points after it is scored at once from
    suffix sums (least squares of ``y = a + s * max(0, t - t_k)``), so the cost is linear.

    >>> t = np.arange(30.0)
    >>> onset(t, np.where(t < 12, 100.0, 100.0 - 5 * (t - 12)), 8)
    12
    """
    n = len(t)
    last = n - min_points
    if last <= 0:
        return 0
    tk = t[: last + 1]
    count = n - np.arange(last + 1)

    def suffix(v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.cumsum(v[::-1])[::-1][: last + 1]

    st, sy, stt, sty = suffix(t), suffix(y), suffix(t * t), suffix(t * y)
    sx = st - count * tk
    sxx = stt - 2 * tk * st + count * tk * tk
    sxy = sty - tk * sy
    ybar = float(y.mean())
    # regression of y on x_k = max(0, t - t_k); points before the knee have x = 0
    cov = sxy - sx * ybar
    var = sxx - sx * sx / n
    with np.errstate(divide="ignore", invalid="ignore"):
        explained = np.where(var > 0, cov * cov / var, -np.inf)
    falling = cov < 0
    if not falling.any():
        return 0
    return int(np.argmax(np.where(falling, explained, -np.inf)))


def sustained_trend(
    ts: Sequence[float], headroom: Sequence[float], policy: TrendPolicy
) -> Trend | None:
    """The longest recent sustained fall of ``headroom`` (see module), or None.

    The grid of windows runs from the whole history down by thirds while they keep
    ``min_points`` points. A window whose least-squares slope does not fall, or whose
    least-squares R² is short, is skipped without the costlier robust fit; when no grid
    window is left, nothing else is tried (the usual case, and a cheap one). Otherwise
    each grid window is cut at the :func:`onset` of the fall within it, and the cut
    windows are tried, longest first.

    >>> ts = [float(i) for i in range(60)]
    >>> fill = sustained_trend(ts, [1000.0 - 10 * i for i in range(60)], TrendPolicy())
    >>> round(fill.eta), fill.model
    (41, 'theil-sen')
    >>> step = [500.0 if i < 30 else 300.0 for i in range(60)]
    >>> sustained_trend(ts, step, TrendPolicy()) is None
    True
    """
    t = np.asarray(ts, dtype=np.float64)
    y = np.asarray(headroom, dtype=np.float64)
    start = t[0] if len(t) else 0.0
    t = t - start
    grid = []
    size = len(t)
    while size >= policy.min_points:
        grid.append(size)
        size = size * 2 // 3

    def straight(size: int) -> bool:
        # least squares has the highest R² of any line: below r2_min, Theil-Sen is too
        return _falls_straight(t[-size:], y[-size:], policy.r2_min)

    falling = [size for size in grid if straight(size)]
    if not falling:
        return None
    # each grid window cut at its knee: one that starts after an older change (a
    # process's start, an earlier step) finds the onset of the newest fall, and no
    # window keeps the flat stretch before it (which would bend a parabola)
    cut = {size - onset(t[-size:], y[-size:], policy.min_points) for size in grid}
    for size in sorted(cut, reverse=True):
        if not straight(size):
            continue
        trend = _fit(t[-size:], y[-size:], policy)
        if trend is not None:
            return replace(trend, at=float(start + t[-1]))
    return None
