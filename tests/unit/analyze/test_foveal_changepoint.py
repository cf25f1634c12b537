"""Change points: a sustained degradation is one symptom; steps too small, bursts and
improvements are none."""

from __future__ import annotations

import numpy as np
import pytest

from setpoint.analyze.foveal.attention import DEGRADATION, Foveal
from setpoint.analyze.foveal.changepoint import MODEL, ChangePoints
from setpoint.config.foveal import ChangePointConfig, DegradationRule, FovealConfig
from setpoint.model import Sample, Severity, Symptom, SymptomState

ENTITY = "service:web"


def series(n: int, seed: int = 0, level: float = 100.0, noise: float = 3.0) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0.0, noise, n)


def run(values: np.ndarray, name: str = "web.latency_ms", **config: object) -> list[Symptom]:
    """Feed one series, one sample per second, salient throughout (a look every 5 s)."""
    foveal = Foveal(FovealConfig.model_validate({"enabled": True, **config}))
    assert foveal.load()
    out: list[Symptom] = []
    for t, v in enumerate(values):
        out += foveal.observe([Sample(name, float(v), float(t), ENTITY)], {ENTITY: 1.0})
    return out


def test_a_sustained_fifty_percent_step_is_one_symptom_with_its_evidence() -> None:
    values = series(400)
    values[300:] *= 1.5
    out = run(values)

    assert [(s.kind, s.state) for s in out] == [(DEGRADATION, SymptomState.FIRING)]
    symptom = out[0]
    assert symptom.entity == ENTITY
    assert symptom.ts >= 360.0  # 60 s of the new level before it fires
    ev = symptom.evidence
    assert ev["series"] == "web.latency_ms"
    assert ev["model"] == MODEL
    assert ev["changed_at"] == 300.0
    assert ev["before"] == pytest.approx(100.0, abs=1.5)
    assert ev["after"] == pytest.approx(150.0, abs=1.5)
    assert ev["relative_change"] == pytest.approx(0.5, abs=0.03)
    assert ev["worse"] == "up"
    low, high = ev["expected_range"]
    assert low < ev["before"] < high < ev["after"]


def test_a_ten_percent_step_is_none() -> None:
    values = series(400)
    values[300:] *= 1.1
    assert run(values) == []


def test_a_five_second_burst_that_returns_is_none() -> None:
    values = series(400)
    values[300:305] *= 3.0
    assert run(values) == []


def test_an_improvement_is_none() -> None:
    values = series(400)
    values[300:] *= 0.5
    assert run(values) == []


def test_throughput_is_worse_down() -> None:
    values = series(400, level=1000.0, noise=20.0)
    values[300:] *= 0.6
    out = run(values, name="web.requests_per_s")
    assert [s.evidence["worse"] for s in out] == ["down"]
    assert out[0].evidence["relative_change"] == pytest.approx(0.4, abs=0.03)


def test_a_series_no_rule_names_is_not_judged() -> None:
    values = series(400)
    values[300:] *= 2.0
    assert run(values, name="web.queue_depth") == []
    rules = [{"suffix": "queue_depth", "worse": "up"}]
    assert [s.kind for s in run(values, name="web.queue_depth", changepoint={"rules": rules})] == [
        DEGRADATION
    ]


def test_a_new_level_shorter_than_sustain_is_not_yet_one() -> None:
    values = series(400)
    values[350:] *= 1.5
    assert run(values) == []
    assert len(run(values, changepoint={"sustain": 30})) == 1


def test_a_degradation_clears_once_the_series_is_back() -> None:
    values = series(600)
    values[300:450] *= 1.5
    out = run(values)

    assert [s.state for s in out] == [SymptomState.FIRING, SymptomState.CLEARED]
    fired, cleared = out
    assert cleared.clears == fired.id
    assert 450.0 <= cleared.ts <= 470.0
    assert cleared.evidence["value"] == pytest.approx(100.0, abs=3.0)


def test_a_doubling_is_critical() -> None:
    values = series(400)
    values[300:] *= 2.5
    assert [s.severity for s in run(values)] == [Severity.CRITICAL]


def test_noise_and_slow_autocorrelated_wander_are_not_degradations() -> None:
    cp = ChangePoints(ChangePointConfig())
    ts = np.arange(600.0)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        wander = np.zeros(600)
        for i in range(1, 600):
            wander[i] = 0.9 * wander[i - 1] + rng.normal(0.0, 2.0)
        assert cp.detect("a.latency", ts, 100.0 + wander, "up") is None


def test_the_first_matching_rule_wins() -> None:
    config = ChangePointConfig(
        rules=(
            DegradationRule(suffix="free_latency", worse="down"),
            DegradationRule(suffix="latency", worse="up"),
        )
    )
    assert config.worse("x.free_latency") == "down"
    assert config.worse("x.latency") == "up"
    assert config.worse("x.other") is None


def test_a_degraded_series_read_every_15_ticks_does_not_flap() -> None:
    """A probe's latency arrives every 15 s among per-tick series: the gaps between its
    readings are not a recovery."""
    foveal = Foveal(FovealConfig(enabled=True))
    assert foveal.load()
    latency = series(900, seed=3)
    latency[300:] *= 1.5
    out: list[Symptom] = []
    for t in range(900):
        tick = [Sample("web.rss_bytes", 5e7, float(t), ENTITY)]
        if t % 15 == 0:
            tick.append(Sample("web.probe.latency_ms", float(latency[t]), float(t), ENTITY))
        out += foveal.observe(tick, {ENTITY: 1.0})

    assert [(s.kind, s.state) for s in out] == [(DEGRADATION, SymptomState.FIRING)]
