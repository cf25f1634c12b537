"""Declared bounds: fire on the first crossing, clear only after readings back inside."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from setpoint.analyze.thresholds import THRESHOLD, ThresholdRule, Thresholds
from setpoint.config.models import Config
from setpoint.model import Sample, SymptomState


def _cpu(value: float, ts: float, service: str = "web") -> Sample:
    return Sample("service.cpu_percent", value, ts, f"service:{service}")


def test_a_crossing_fires_once_and_clears_after_calm_readings() -> None:
    t = Thresholds([ThresholdRule(series="service.cpu_percent", above=20)])

    fired = t.observe([_cpu(95, 1.0)])
    during = [t.observe([_cpu(v, ts)]) for v, ts in ((90, 2.0), (5, 3.0), (99, 4.0))]
    calm = [t.observe([_cpu(1, ts)]) for ts in (5.0, 6.0, 7.0)]

    assert [(s.kind, s.entity, s.state) for s in fired] == [
        (THRESHOLD, "service:web", SymptomState.FIRING)
    ]
    assert fired[0].evidence["series"] == "service.cpu_percent"
    assert fired[0].evidence["reason"] == "service.cpu_percent 95 is above 20"
    assert during == [[], [], []], "one dip does not end it, nor does a new high start another"
    assert calm[:2] == [[], []]
    assert [(s.state, s.clears) for s in calm[2]] == [(SymptomState.CLEARED, fired[0].id)]


def test_each_entity_has_its_own_crossing_and_a_service_rule_sees_only_its_service() -> None:
    every = ThresholdRule(series="service.cpu_percent", above=20, clear_after=1)
    only_db = ThresholdRule(series="service.cpu_percent", service="db", below=1)
    t = Thresholds([every, only_db])

    out = t.observe([_cpu(50, 1.0, "web"), _cpu(0.5, 1.0, "db"), _cpu(0.5, 1.0, "cache")])

    assert sorted((s.entity, s.evidence["model"]) for s in out) == [
        ("service:db", "threshold below 1"),
        ("service:web", "threshold above 20"),
    ]


def test_other_series_and_labelled_keys_are_left_alone() -> None:
    t = Thresholds([ThresholdRule(series="host.disk.used_percent", above=90)])

    out = t.observe(
        [
            Sample("host.disk.used_percent", 95.0, 1.0, labels={"mount": "/"}),
            Sample("host.memory.used_percent", 99.0, 1.0),
        ]
    )

    assert out == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"series": "x"}, "exactly one of above or below"),
        ({"series": "x", "above": 1, "below": 0}, "exactly one of above or below"),
        ({"series": "x", "above": 1, "service": "a", "entity": "host"}, "service or entity"),
    ],
)
def test_a_rule_needs_one_bound_and_at_most_one_target(
    rule: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Config.model_validate({"thresholds": [rule]})
