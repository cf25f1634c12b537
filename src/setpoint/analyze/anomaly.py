"""Run a detector on every series and turn excursions into symptoms.

One excursion is one symptom: a series must look anomalous for ``persist`` ticks in
a row to fire, fires once, and clears after ``clear_after`` ordinary ticks. Points
judged anomalous are not learned (:func:`~setpoint.analyze.base.protected_step`), unless
the excursion lasts ``relearn_after`` ticks, when it is the new normal and is learned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from setpoint.analyze.base import VALUE, Detector, Threshold, protected_step
from setpoint.model import Sample, Severity, Symptom

ANOMALY = "anomaly"
"""Symptom kind of a univariate excursion."""


@dataclass
class _SeriesState:
    detector: Detector
    run: int = 0
    calm: int = 0
    firing: Symptom | None = None


@dataclass(frozen=True)
class AnomalyPolicy:
    """When a score is anomalous and how long an excursion must last."""

    threshold: float = 8.0
    persist: int = 3
    clear_after: int = 5
    relearn_after: int = 300


class AnomalyWatch:
    """One detector per series key, created on first sight.

    >>> from setpoint.analyze.rolling_median import RollingMedian
    >>> cfg = RollingMedian.Config(window=20, warmup=5)
    >>> watch = AnomalyWatch(lambda: RollingMedian(cfg), AnomalyPolicy(persist=2))
    >>> quiet = [Sample("s", 10.0 + (i % 2), float(i)) for i in range(10)]
    >>> watch.observe(quiet)
    []
    >>> spike = [Sample("s", 90.0, 10.0), Sample("s", 95.0, 11.0)]
    >>> [s.kind for s in watch.observe(spike)]
    ['anomaly']
    """

    def __init__(
        self, make_detector: Callable[[], Detector], policy: AnomalyPolicy | None = None
    ) -> None:
        self._make = make_detector
        self.policy = policy or AnomalyPolicy()
        self._series: dict[str, _SeriesState] = {}

    def __len__(self) -> int:
        return len(self._series)

    def observe(self, samples: Iterable[Sample]) -> list[Symptom]:
        """Score, then learn, every sample; return symptoms that start or end."""
        out: list[Symptom] = []
        for sample in samples:
            state = self._series.get(sample.key)
            if state is None:
                state = self._series[sample.key] = _SeriesState(self._make())
            symptom = self._step(state, sample)
            if symptom is not None:
                out.append(symptom)
        return out

    def firing(self) -> list[Symptom]:
        """Symptoms currently firing."""
        return [s.firing for s in self._series.values() if s.firing is not None]

    def _step(self, state: _SeriesState, sample: Sample) -> Symptom | None:
        policy, detector = self.policy, state.detector
        score, anomalous = protected_step(
            detector,
            Threshold(policy.threshold),
            {VALUE: sample.value},
            learn_anyway=state.run + 1 >= policy.relearn_after,
        )
        if not anomalous:
            state.run = 0
            state.calm += 1
            if state.firing is not None and state.calm >= policy.clear_after:
                evidence = {"series": sample.key, "value": sample.value, "score": round(score, 3)}
                cleared = state.firing.cleared(sample.ts, evidence)
                state.firing = None
                return cleared
            return None
        state.calm = 0
        state.run += 1
        if state.firing is None and state.run >= policy.persist:
            state.firing = _fired(detector, sample, score, policy)
            return state.firing
        return None


def _evidence(detector: Detector, sample: Sample, score: float) -> dict[str, object]:
    evidence: dict[str, object] = {
        "series": sample.key,
        "value": sample.value,
        "score": round(score, 3),
        "model": type(detector).__name__,
    }
    expected = getattr(detector, "expected", None)
    if callable(expected):
        median, scale = expected()
        evidence["expected"] = median
        evidence["expected_range"] = [median - 3 * scale, median + 3 * scale]
    return evidence


def _fired(detector: Detector, sample: Sample, score: float, policy: AnomalyPolicy) -> Symptom:
    severity = Severity.CRITICAL if score >= 2 * policy.threshold else Severity.WARNING
    return Symptom(
        kind=ANOMALY,
        entity=sample.entity,
        ts=sample.ts,
        severity=severity,
        evidence=_evidence(detector, sample, score),
    )
