"""The OOM predictor: the seed's kernel crash predictor, in user space.

Memory is watched per *domain*: the host (available memory) and every memory cgroup
or ``RLIMIT_AS`` a service runs under (limit minus the usage counted against it). Each
domain keeps a ring buffer of its last ``buffer`` readings, as does each service's RSS.
A domain whose headroom falls in a sustained trend (:mod:`setpoint.analyze.trend`) is
assessed with a multi-factor confidence from 0 to 1:

- ``trend``: how well a straight line explains the fall (R²), weight 0.35;
- ``urgency``: how near the ETA is, 1 at ``critical`` seconds, 0 at ``horizon``, 0.25;
- ``sustain``: how long the fall has lasted against half its ETA, 0.2;
- ``attribution``: the share of the fall one process's RSS growth explains, 0.1;
- ``pressure``: PSI memory stall, major faults and buddy fragmentation, 0.1;

halved when the domain was as low before within the buffer and recovered (a GC-like
sawtooth, not a leak). Risk is NORMAL without a trend, ELEVATED with one that is not
confident or not near, WARNING when the confidence reaches ``threshold`` and the ETA is
inside ``horizon``, CRITICAL inside ``critical``. The culprit is the member whose RSS
*grows* fastest over the trend's window, never the biggest: the process to restart
before the kernel kills whichever is largest.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from setpoint.analyze.trend import Trend, TrendPolicy, sustained_trend, theil_sen
from setpoint.model import HOST, Sample, Severity, Symptom, service_entity

OOM_PREDICTED = "memory.oom_predicted"
"""Symptom kind of a predicted OOM kill."""
_WEIGHTS = {"trend": 0.35, "urgency": 0.25, "sustain": 0.2, "attribution": 0.1, "pressure": 0.1}


class RiskLevel(StrEnum):
    """How close a domain is to an OOM kill."""

    NORMAL = "NORMAL"
    ELEVATED = "ELEVATED"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True, slots=True)
class CrashPolicy:
    """When a falling headroom becomes a prediction (see module)."""

    threshold: float = 0.6
    horizon: float = 120.0
    critical: float = 30.0
    buffer: int = 100
    clear_after: int = 3
    trend: TrendPolicy = field(
        default_factory=lambda: TrendPolicy(min_duration=15.0, duration_fraction=0.35)
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A process in a domain: its size and how fast it grew over the trend's window."""

    service: str
    rss: float
    growth: float


@dataclass(frozen=True, slots=True)
class Assessment:
    """The latest judgement of one domain."""

    domain: str
    ts: float
    risk: RiskLevel
    confidence: float
    headroom: float
    limit: float | None
    trend: Trend | None
    culprit: str | None
    candidates: tuple[Candidate, ...]
    factors: dict[str, float]

    @property
    def entity(self) -> str:
        """Who a prediction names: the culprit service, else the host."""
        return service_entity(self.culprit) if self.culprit else HOST


@dataclass
class _Domain:
    buffer: deque[tuple[float, float]]
    members: set[str] = field(default_factory=set)
    limit: float | None = None
    seen: bool = False
    firing: Symptom | None = None
    calm: int = 0
    last: Assessment | None = None


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


class CrashPredictor:
    """Assesses every memory domain each tick and fires ``memory.oom_predicted``."""

    def __init__(self, policy: CrashPolicy | None = None) -> None:
        self.policy = policy or CrashPolicy()
        self.threshold = self.policy.threshold
        self._domains: dict[str, _Domain] = {}
        self._rss: dict[str, deque[tuple[float, float]]] = {}
        self._pressure = 0.0

    def assessments(self) -> list[Assessment]:
        """The latest assessment of every domain."""
        return [d.last for d in self._domains.values() if d.last is not None]

    def firing(self) -> list[Symptom]:
        """Predictions currently firing."""
        return [d.firing for d in self._domains.values() if d.firing is not None]

    def observe(self, samples: Iterable[Sample]) -> list[Symptom]:
        """Fold one tick of samples in; return the symptoms that fire or clear."""
        batch = list(samples)
        if not batch:
            return []
        ts = max(s.ts for s in batch)
        self._read(batch)
        out = []
        for name, domain in self._domains.items():
            if domain.seen:
                domain.last = self._assess(name, domain, ts)
            symptom = self._transition(domain, ts)
            if symptom is not None:
                out.append(symptom)
            domain.seen = False
        return out

    def _domain(self, name: str) -> _Domain:
        if name not in self._domains:
            self._domains[name] = _Domain(deque(maxlen=self.policy.buffer))
        return self._domains[name]

    def _read(self, batch: list[Sample]) -> None:
        psi = faults = frag = 0.0
        services: set[str] = set()
        for s in batch:
            service = s.entity.removeprefix("service:") if s.entity != HOST else None
            if s.series == "host.memory.available_bytes":
                host = self._domain(HOST)
                host.buffer.append((s.ts, s.value))
                host.seen = True
            elif s.series == "host.psi.memory.some_avg10":
                psi = s.value
            elif s.series == "host.memory.major_faults_per_s":
                faults = s.value
            elif s.series == "host.memory.fragmentation":
                frag = s.value
            elif service and s.series == "service.rss_bytes":
                services.add(service)
                ring = self._rss.setdefault(service, deque(maxlen=self.policy.buffer))
                ring.append((s.ts, s.value))
        self._pressure = max(_clip(psi / 20), _clip(faults / 200), _clip((frag - 0.5) / 0.5))
        self._domain(HOST).members |= services
        used = {s.entity: s.value for s in batch if s.series == "service.memory_used_bytes"}
        for s in batch:
            if s.series == "service.memory_limit_bytes" and s.entity in used:
                domain = self._domain(f"cgroup:{s.labels.get('cgroup', s.entity)}")
                if not domain.seen:
                    domain.buffer.append((s.ts, s.value - used[s.entity]))
                domain.seen, domain.limit = True, s.value
                domain.members.add(s.entity.removeprefix("service:"))

    def _candidates(self, domain: _Domain, since: float) -> list[Candidate]:
        found = []
        for service in sorted(domain.members):
            ring = self._rss.get(service)
            points = [(t, v) for t, v in ring or () if t >= since]
            if len(points) < 3:
                continue
            t, v = np.array(points).T
            growth, _, _ = theil_sen(t - t[0], v)
            found.append(Candidate(service, float(v[-1]), growth))
        return found

    def _assess(self, name: str, domain: _Domain, ts: float) -> Assessment:
        times, values = zip(*domain.buffer, strict=True)
        headroom = values[-1]
        trend = sustained_trend(times, values, self.policy.trend)
        if trend is None:
            return Assessment(
                name, ts, RiskLevel.NORMAL, 0.0, headroom, domain.limit, None, None, (), {}
            )
        p = self.policy
        candidates = self._candidates(domain, ts - trend.duration)
        top = max(candidates, key=lambda c: c.growth, default=None)
        share = _clip(top.growth / -trend.slope) if top is not None else 0.0
        culprit = top.service if top is not None and share >= 0.25 else None
        earlier = [v for t, v in domain.buffer if t < ts - trend.duration]
        recurring = bool(earlier) and min(earlier) <= trend.level * 1.05
        factors = {
            "trend": _clip(trend.r2),
            "urgency": _clip((p.horizon - trend.eta) / (p.horizon - p.critical)),
            "sustain": _clip(trend.duration / max(p.trend.min_duration, 0.5 * trend.eta)),
            "attribution": share if culprit else 0.0,
            "pressure": self._pressure,
        }
        confidence = sum(_WEIGHTS[k] * v for k, v in factors.items())
        if recurring:
            confidence *= 0.5
        factors["recurrence"] = 0.5 if recurring else 1.0
        risk = RiskLevel.ELEVATED
        if confidence >= self.threshold and trend.eta <= p.horizon:
            risk = RiskLevel.CRITICAL if trend.eta <= p.critical else RiskLevel.WARNING
        return Assessment(
            name,
            ts,
            risk,
            round(confidence, 3),
            headroom,
            domain.limit,
            trend,
            culprit,
            tuple(candidates),
            {k: round(v, 3) for k, v in factors.items()},
        )

    def _transition(self, domain: _Domain, ts: float) -> Symptom | None:
        last = domain.last
        alarming = (
            domain.seen
            and last is not None
            and last.risk in (RiskLevel.WARNING, RiskLevel.CRITICAL)
        )
        if alarming and last is not None:
            domain.calm = 0
            if domain.firing is None:
                critical = last.risk is RiskLevel.CRITICAL
                domain.firing = Symptom(
                    OOM_PREDICTED,
                    last.entity,
                    ts,
                    severity=Severity.CRITICAL if critical else Severity.WARNING,
                    evidence=evidence(last),
                )
                return domain.firing
            return None
        if domain.firing is None:
            return None
        domain.calm += 1
        if domain.calm < self.policy.clear_after:
            return None
        why = f"risk {last.risk.value}" if domain.seen and last else "no readings (process gone)"
        cleared = domain.firing.cleared(ts, {"reason": why})
        domain.firing, domain.calm = None, 0
        return cleared


def evidence(a: Assessment) -> dict[str, object]:
    """What ``setpoint explain`` and ``setpoint crash status`` show for an assessment."""
    t = a.trend
    out: dict[str, object] = {
        "domain": a.domain,
        "series": "host.memory.available_bytes"
        if a.domain == HOST
        else "service.memory_limit_bytes - service.memory_used_bytes",
        "value": a.headroom,
        "limit": a.limit,
        "risk": a.risk.value,
        "confidence": a.confidence,
        "factors": a.factors,
        "culprit": a.culprit,
        "candidates": [
            {"service": c.service, "rss_bytes": c.rss, "growth_bytes_per_s": round(c.growth, 1)}
            for c in a.candidates
        ],
        "model": "theil-sen ring buffer" if t is None else f"{t.model} ring buffer",
    }
    if t is not None:
        out |= {
            "slope_per_s": round(t.slope, 1),
            "eta_s": round(t.eta, 1),
            "eta_interval_s": [
                round(t.eta_low, 1),
                None if math.isinf(t.eta_high) else round(t.eta_high, 1),
            ],
            "r2": round(t.r2, 3),
            "window_s": round(t.duration, 1),
        }
    if a.culprit:
        out["reason"] = (
            f"OOM kill in ~{out.get('eta_s')} s; {a.culprit} grows "
            f"{next(c.growth for c in a.candidates if c.service == a.culprit) / 2**20:.1f} MiB/s"
        )
    return out
