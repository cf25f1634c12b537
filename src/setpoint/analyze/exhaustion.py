"""Predict disk, memory and file-descriptor exhaustion before it happens.

Each watched resource becomes a *headroom* series (free bytes of a mount or left in a
directory's budget, available memory, fds left before the limit) and is fitted with
:func:`sustained_trend`, so a log rotation or a package upgrade (a step that stays
flat, or a burst that is freed again) never predicts anything. A
``*.exhaustion_predicted`` symptom fires when the ETA falls under the resource's
horizon and clears once the trend is gone (or its ETA is past 1.5 horizons) on two
assessments in a row.

Readings are averaged into buckets and the trend is assessed once per bucket, which
keeps the cost per tick tiny however fast the loop. A bucket is ``window / 240`` seconds,
or shorter when that is needed for a trend's first ``min_points`` buckets to fit in its
``min_duration`` (so the shortest trend the policy allows is seen once it has lasted
that long, not a few buckets later), down to ``window / 480``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from setpoint.analyze.trend import Trend, TrendPolicy, sustained_trend
from setpoint.model import Sample, Severity, Symptom

BUCKETS = 240
"""Points a trend window is cut into, unless ``min_duration`` needs finer ones."""
MAX_POINTS = 480
"""Most buckets a window is ever cut into (the robust fit's cost grows as their square)."""
_CLEAR_AFTER = 2


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    """How far ahead to warn about one family (``disk``, ``memory``, ``fds``)."""

    horizon: float
    window: float
    trend: TrendPolicy = field(default_factory=TrendPolicy)

    @property
    def resolution(self) -> float:
        """Seconds per bucket (see module).

        >>> ResourcePolicy(3600, 1800, TrendPolicy(min_duration=30)).resolution
        4.285714285714286
        >>> ResourcePolicy(3600, 1800, TrendPolicy(min_duration=300)).resolution
        7.5
        """
        fit = self.trend.min_duration / max(1, self.trend.min_points - 1)
        return max(self.window / MAX_POINTS, min(self.window / BUCKETS, fit))


@dataclass(frozen=True, slots=True)
class Headroom:
    """One reading of how much of a resource is left, and what it is measured against."""

    family: str
    entity: str
    series: str
    value: float
    limit: float | None
    unit: str


_LIMITED = (
    ("fds", "host.fds.max", "host.fds.open", "fds"),
    ("memory", "service.memory_limit_bytes", "service.memory_used_bytes", "bytes"),
    ("disk", "dir.budget_bytes", "dir.used_bytes", "bytes left in the budget"),
    ("fds", "service.fds_limit", "service.fds", "fds"),
)
"""Headrooms that are a limit minus a usage: family, limit series, usage series, unit."""


def headrooms(samples: Iterable[Sample]) -> Iterator[Headroom]:
    """The headroom readings in one tick's samples.

    >>> s = [Sample("host.fds.open", 900.0, 1.0), Sample("host.fds.max", 1000.0, 1.0)]
    >>> [(h.family, h.value) for h in headrooms(s)]
    [('fds', 100.0)]
    """
    by_entity: dict[str, dict[str, float]] = {}
    for s in samples:
        if s.series == "host.disk.free_bytes":
            mount = s.labels.get("mount", "?")
            yield Headroom("disk", s.entity, s.key, s.value, None, f"bytes free on {mount}")
        elif not s.labels or s.series == "service.memory_limit_bytes":
            by_entity.setdefault(s.entity, {})[s.series] = s.value
    for entity, v in by_entity.items():
        if "host.memory.available_bytes" in v:
            avail = v["host.memory.available_bytes"]
            yield Headroom("memory", entity, "host.memory.available_bytes", avail, None, "bytes")
        for family, limit_key, used_key, unit in _LIMITED:
            if limit_key in v and used_key in v:
                limit = v[limit_key]
                series = f"{limit_key} - {used_key}"
                yield Headroom(family, entity, series, limit - v[used_key], limit, unit)


@dataclass
class _Track:
    """Bucketed history of one headroom series and whether its symptom fires."""

    resolution: float
    points: deque[tuple[float, float]]
    bucket_start: float | None = None
    bucket_sum: float = 0.0
    bucket_tsum: float = 0.0
    bucket_n: int = 0
    firing: Symptom | None = None
    calm: int = 0
    trend: Trend | None = None

    def add(self, ts: float, value: float) -> bool:
        """Fold a reading in; True when it closed a bucket (time to assess).

        A bucket's point is the mean of its readings at the mean of their times.
        """
        if self.bucket_start is None:
            self.bucket_start = ts
        closed = False
        if ts - self.bucket_start >= self.resolution and self.bucket_n:
            n = self.bucket_n
            self.points.append((self.bucket_tsum / n, self.bucket_sum / n))
            self.bucket_start, self.bucket_sum, self.bucket_tsum, self.bucket_n = ts, 0.0, 0.0, 0
            closed = True
        self.bucket_sum += value
        self.bucket_tsum += ts
        self.bucket_n += 1
        return closed


class ExhaustionWatch:
    """Turns headroom trends into ``disk|memory|fds.exhaustion_predicted`` symptoms.

    >>> policy = ResourcePolicy(horizon=3600, window=600)
    >>> watch = ExhaustionWatch({"disk": policy})
    >>> fill = [Sample("host.disk.free_bytes", 1e9 - 1e6 * t, float(t), labels={"mount": "/d"})
    ...         for t in range(0, 300)]
    >>> [(s.kind, s.evidence["model"]) for s in watch.observe(fill)]
    [('disk.exhaustion_predicted', 'theil-sen')]
    """

    def __init__(self, policies: Mapping[str, ResourcePolicy]) -> None:
        self.policies = dict(policies)
        self._tracks: dict[tuple[str, str], _Track] = {}

    def firing(self) -> list[Symptom]:
        """Predictions currently firing."""
        return [t.firing for t in self._tracks.values() if t.firing is not None]

    def latest(self, entity: str, series: str) -> Trend | None:
        """The trend last found on one headroom series (ETA from its newest point)."""
        track = self._tracks.get((entity, series))
        return None if track is None else track.trend

    def observe(self, samples: Iterable[Sample]) -> list[Symptom]:
        """Fold one tick (or more) of samples in; return symptoms that fire or clear."""
        out: list[Symptom] = []
        batch = list(samples)
        for ts in sorted({s.ts for s in batch}):
            for room in headrooms(s for s in batch if s.ts == ts):
                symptom = self._step(room, ts)
                if symptom is not None:
                    out.append(symptom)
        return out

    def _step(self, room: Headroom, ts: float) -> Symptom | None:
        policy = self.policies.get(room.family)
        if policy is None:
            return None
        key = (room.entity, room.series)
        track = self._tracks.get(key)
        if track is None:
            size = math.ceil(policy.window / policy.resolution)
            track = self._tracks[key] = _Track(policy.resolution, deque(maxlen=size))
        if not track.add(ts, room.value):
            return None
        times, values = zip(*track.points, strict=True)
        trend = track.trend = sustained_trend(times, values, policy.trend)
        if trend is not None and trend.eta < policy.horizon:
            track.calm = 0
            if track.firing is None:
                track.firing = Symptom(
                    f"{room.family}.exhaustion_predicted",
                    room.entity,
                    ts,
                    severity=Severity.CRITICAL
                    if trend.eta < policy.horizon / 4
                    else Severity.WARNING,
                    evidence=evidence(room, trend, policy.horizon, ts),
                )
                return track.firing
            return None
        if track.firing is None:
            return None
        if trend is None or trend.eta > 1.5 * policy.horizon:
            track.calm += 1
        if track.calm < _CLEAR_AFTER:
            return None
        reason = "no sustained trend" if trend is None else f"ETA {_human(trend.eta)}"
        cleared = track.firing.cleared(
            ts, {"series": room.series, "value": room.value, "reason": reason}
        )
        track.firing, track.calm = None, 0
        return cleared


def _human(seconds: float) -> str:
    if math.isinf(seconds):
        return "never"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def evidence(room: Headroom, trend: Trend, horizon: float, ts: float) -> dict[str, object]:
    """What ``setpoint explain`` shows for one prediction; ETAs count from ``ts``."""
    lag = max(0.0, ts - trend.at)
    trend = replace(
        trend,
        eta=max(0.0, trend.eta - lag),
        eta_low=max(0.0, trend.eta_low - lag),
        eta_high=max(0.0, trend.eta_high - lag),
    )
    return {
        "series": room.series,
        "value": room.value,
        "unit": room.unit,
        "limit": room.limit,
        "slope_per_s": trend.slope,
        "slope_interval": [trend.slope_low, trend.slope_high],
        "eta_s": round(trend.eta, 1),
        "eta_interval_s": [round(trend.eta_low, 1), _finite(trend.eta_high)],
        "r2": round(trend.r2, 3),
        "window_s": round(trend.duration, 1),
        "points": trend.points,
        "horizon_s": horizon,
        "model": trend.model,
        "reason": f"{room.family} exhausted in ~{_human(trend.eta)} "
        f"({_human(trend.eta_low)} to {_human(trend.eta_high)}) on a "
        f"{_human(trend.duration)} trend",
    }


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 1)
