"""Declared bounds on series: a ``threshold`` symptom fires while one is crossed.

The operator's own limits (a service never needs more than 20 % of a core; a queue
should stay under 10,000 messages) are facts no baseline has to learn. A rule names a
series, optionally one service or entity, and a bound (``above`` or ``below``). Its
symptom fires on the first reading past the bound and clears after ``clear_after``
readings back inside, so a reading that dips once does not end it. A rule says
nothing about duration: a playbook's ``when.for`` decides how long a crossing must
last before it is acted on, which is what keeps a 5 s CPU burst harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from setpoint.model import Sample, Severity, Symptom, service_entity

THRESHOLD = "threshold"
"""Symptom kind of a crossed bound."""


class ThresholdRule(BaseModel):
    """A bound on one series, for every entity or the one named."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    series: str = Field(min_length=1, description="a series key, e.g. service.cpu_percent")
    service: str | None = Field(None, min_length=1)
    entity: str | None = Field(None, min_length=1)
    above: float | None = None
    below: float | None = None
    clear_after: int = Field(3, ge=1, description="readings back inside before it clears")

    @model_validator(mode="after")
    def _one_bound_one_target(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        if self.service is not None and self.entity is not None:
            raise ValueError("give service or entity, not both")
        return self

    def applies(self, sample: Sample) -> bool:
        """True when ``sample`` is of this rule's series and entity."""
        if sample.key != self.series:
            return False
        if self.service is not None:
            return sample.entity == service_entity(self.service)
        return self.entity is None or sample.entity == self.entity

    @property
    def bound(self) -> tuple[str, float]:
        """``("above", 20.0)`` or ``("below", 5.0)``."""
        if self.above is not None:
            return "above", self.above
        assert self.below is not None  # the validator requires one bound
        return "below", self.below

    def crossed(self, value: float) -> bool:
        """True when ``value`` is past the bound."""
        side, bound = self.bound
        return value > bound if side == "above" else value < bound


@dataclass
class _Crossing:
    symptom: Symptom
    calm: int = 0


class Thresholds:
    """Checks every rule against each tick's samples; fires and clears symptoms.

    >>> t = Thresholds([ThresholdRule(series="service.cpu_percent", above=20, clear_after=2)])
    >>> def tick(v, ts): return [(s.kind, s.state.value) for s in
    ...     t.observe([Sample("service.cpu_percent", v, ts, "service:web")])]
    >>> tick(95.0, 1.0), tick(3.0, 2.0), tick(90.0, 3.0), tick(2.0, 4.0), tick(1.0, 5.0)
    ([('threshold', 'firing')], [], [], [], [('threshold', 'cleared')])
    """

    def __init__(self, rules: Iterable[ThresholdRule]) -> None:
        self.rules = list(rules)
        self._series = {r.series for r in self.rules}
        self._crossing: dict[tuple[int, str], _Crossing] = {}

    def observe(self, samples: Iterable[Sample]) -> list[Symptom]:
        """Fold one tick of samples in; return the symptoms that fire or clear."""
        if not self.rules:
            return []
        out = []
        for sample in samples:
            if sample.key not in self._series:
                continue
            for index, rule in enumerate(self.rules):
                if rule.applies(sample):
                    symptom = self._step(index, rule, sample)
                    if symptom is not None:
                        out.append(symptom)
        return out

    def _step(self, index: int, rule: ThresholdRule, sample: Sample) -> Symptom | None:
        key = (index, sample.entity)
        crossing = self._crossing.get(key)
        if rule.crossed(sample.value):
            if crossing is not None:
                crossing.calm = 0
                return None
            symptom = Symptom(
                THRESHOLD,
                sample.entity,
                sample.ts,
                severity=Severity.WARNING,
                evidence=_evidence(rule, sample),
            )
            self._crossing[key] = _Crossing(symptom)
            return symptom
        if crossing is None:
            return None
        crossing.calm += 1
        if crossing.calm < rule.clear_after:
            return None
        del self._crossing[key]
        return crossing.symptom.cleared(sample.ts, _evidence(rule, sample))


def _evidence(rule: ThresholdRule, sample: Sample) -> dict[str, object]:
    side, bound = rule.bound
    now = "is" if rule.crossed(sample.value) else "is no longer"
    return {
        "series": sample.key,
        "value": sample.value,
        "limit": bound,
        "model": f"threshold {side} {bound:g}",
        "reason": f"{sample.key} {sample.value:g} {now} {side} {bound:g}",
    }
