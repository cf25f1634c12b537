"""Exhaustion forecasts on synthetic series: fills predict, bursts and steps never do."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from setpoint.analyze.exhaustion import ExhaustionWatch, ResourcePolicy
from setpoint.analyze.trend import TrendPolicy, sustained_trend
from setpoint.model import Sample, Symptom, SymptomState

MIB = 2**20
DISK = 256 * MIB
POLICY = ResourcePolicy(horizon=6 * 3600, window=1800, trend=TrendPolicy(min_duration=30))


def run(free: Callable[[float], float], seconds: int, every: float = 1.0) -> list[Symptom]:
    watch = ExhaustionWatch({"disk": POLICY})
    out: list[Symptom] = []
    for i in range(int(seconds / every)):
        t = i * every
        sample = Sample("host.disk.free_bytes", max(free(t), 0.0), t, labels={"mount": "/d"})
        out += watch.observe([sample])
    return out


def test_a_constant_fill_is_predicted_early_with_an_accurate_eta() -> None:
    full_at = 2400.0
    fired = run(lambda t: DISK * (1 - t / full_at), 2400, every=10.0)

    first = fired[0]
    assert first.kind == "disk.exhaustion_predicted"
    assert full_at - first.ts >= 600, "at least 10 minutes of lead"
    left = full_at - first.ts
    assert abs(first.evidence["eta_s"] - left) / left < 0.15
    low, high = first.evidence["eta_interval_s"]
    assert low <= first.evidence["eta_s"] <= (high or math.inf)
    assert first.evidence["model"] == "theil-sen"


def test_an_accelerating_fill_uses_the_parabola() -> None:
    full_at = 2400.0
    r0 = DISK / (2 * full_at)
    fired = run(lambda t: DISK - r0 * (t + t * t / full_at), 2400, every=10.0)

    first = fired[0]
    left = full_at - first.ts
    assert abs(first.evidence["eta_s"] - left) / left < 0.15
    later = sustained_trend(
        [t for t in range(1200, 1800, 10)],
        [DISK - r0 * (t + t * t / full_at) for t in range(1200, 1800, 10)],
        TrendPolicy(min_duration=30),
    )
    assert later is not None and later.model == "quadratic"


@pytest.mark.parametrize(
    "free",
    [
        pytest.param(lambda t: 200 * MIB - (40 * MIB if 30 <= t < 90 else 0), id="40MiB-held-60s"),
        pytest.param(lambda t: 200 * MIB - (30 * MIB if t >= 60 else 0), id="step-stays"),
        pytest.param(lambda t: 200 * MIB - 3 * MIB * min(max(t - 30, 0), 20), id="upgrade-stops"),
        pytest.param(lambda t: 150 * MIB - 40 * MIB * ((t % 20) / 20), id="sawtooth"),
        pytest.param(lambda t: 150 * MIB + (t * 7919 % 13) * MIB, id="noise"),
    ],
)
def test_bursts_steps_and_noise_never_predict(free: Callable[[float], float]) -> None:
    assert run(free, 300) == []


def test_the_prediction_clears_when_the_fill_stops() -> None:
    fired = run(lambda t: DISK - 0.05 * MIB * min(t, 900), 2400)

    assert [s.state for s in fired] == [SymptomState.FIRING, SymptomState.CLEARED]
    assert fired[1].clears == fired[0].id


def test_service_fds_approach_their_limit() -> None:
    watch = ExhaustionWatch({"fds": ResourcePolicy(3600, 600, TrendPolicy(min_duration=30))})
    fired: list[Symptom] = []
    for t in range(400):
        fired += watch.observe(
            [
                Sample("service.fds", 100.0 + 2 * t, float(t), "service:web"),
                Sample("service.fds_limit", 1024.0, float(t), "service:web"),
            ]
        )

    assert [(s.kind, s.entity) for s in fired] == [("fds.exhaustion_predicted", "service:web")]
    assert fired[0].evidence["limit"] == 1024.0
