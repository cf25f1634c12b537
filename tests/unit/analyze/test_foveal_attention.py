"""The foveal tier's scheduling (salience, budget, round robin) and its IsolationForest."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from setpoint.analyze.foveal.attention import MULTIVARIATE, Foveal
from setpoint.analyze.foveal.forest import MODEL
from setpoint.analyze.foveal.history import History
from setpoint.config.foveal import FovealConfig
from setpoint.model import Sample, Symptom, SymptomState


class SteppingClock:
    """A monotonic clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def one_series_each(entities: list[str], t: float) -> list[Sample]:
    return [Sample("x.value", 1.0, t, e) for e in entities]


def scheduling(**config: object) -> FovealConfig:
    return FovealConfig.model_validate(
        {"enabled": True, "revisit": 0, "forest": {"enabled": False}, **config}
    )


def test_nothing_salient_means_no_look_and_nothing_imported() -> None:
    foveal = Foveal(scheduling())
    entities = [f"e{i}" for i in range(5)]
    for t in range(50):
        assert (
            foveal.observe(one_series_each(entities, float(t)), dict.fromkeys(entities, 0.5)) == []
        )
    assert foveal.looks == 0
    assert foveal._changepoints is None and foveal._loader is None


def test_the_first_due_tick_does_not_wait_for_the_import() -> None:
    foveal = Foveal(scheduling())
    assert foveal.observe(one_series_each(["e"], 0.0), {"e": 1.0}) == []
    assert foveal.looks == 0
    loader = foveal._loader
    assert loader is not None
    loader.join(timeout=60)
    foveal.observe(one_series_each(["e"], 1.0), {"e": 1.0})
    assert foveal.looks == 1


def test_entities_beyond_the_budget_wait_and_go_first_next_tick() -> None:
    # The clock is read once for the deadline, then once before each entity after the
    # first: with 0.02 s per read and a 0.05 s budget, three entities fit in a tick.
    foveal = Foveal(scheduling(budget=0.05, max_entities=10), clock=SteppingClock(0.02))
    assert foveal.load()
    entities = [f"e{i}" for i in range(7)]
    salience = dict.fromkeys(entities, 1.0)
    looked_per_tick = []
    for t in range(4):
        before = foveal.looked()
        foveal.observe(one_series_each(entities, float(t)), salience)
        looked_per_tick.append(
            sorted(e for e, at in foveal.looked().items() if before.get(e) != at)
        )

    assert looked_per_tick == [
        ["e0", "e1", "e2"],
        ["e3", "e4", "e5"],
        ["e0", "e1", "e6"],
        ["e2", "e3", "e4"],
    ]
    assert foveal.deferred == 4 * 4


def test_at_most_max_entities_per_tick_most_salient_first() -> None:
    foveal = Foveal(scheduling(max_entities=2, budget=10.0))
    assert foveal.load()
    salience = {"a": 0.995, "b": 1.0, "c": 0.999, "quiet": 0.5}
    foveal.observe(one_series_each(list(salience), 0.0), salience)
    assert sorted(foveal.looked()) == ["b", "c"]
    foveal.observe(one_series_each(list(salience), 1.0), salience)
    assert foveal.looked() == {"a": 1.0, "b": 1.0, "c": 0.0}  # a waited longest; then b


def test_an_entity_is_looked_at_again_only_after_revisit() -> None:
    foveal = Foveal(scheduling(revisit=5.0))
    assert foveal.load()
    for t in range(12):
        foveal.observe(one_series_each(["e"], float(t)), {"e": 1.0})
    assert foveal.looks == 3  # t = 0, 5, 10


def test_without_the_ml_extra_it_logs_once_and_stays_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "setpoint.analyze.foveal.changepoint", None)
    foveal = Foveal(scheduling())
    with caplog.at_level(logging.WARNING):
        assert not foveal.load()
        for t in range(5):
            assert foveal.observe(one_series_each(["e"], float(t)), {"e": 1.0}) == []
        assert not foveal.load()
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["foveal attention is off"]
    assert foveal.looks == 0 and foveal._loader is None


def related(rng: np.random.Generator, broken: bool) -> tuple[float, float]:
    """Requests and the CPU they cost; broken: high CPU at low load (within each range)."""
    if broken:
        return float(rng.uniform(0.0, 0.2)), float(rng.uniform(1.6, 2.0))
    load = float(rng.uniform(0.0, 1.0))
    return load, 2.0 * load + float(rng.normal(0.0, 0.03))


def forest_only() -> Foveal:
    """A loaded tier that only fits forests (30 trees), with time enough every tick."""
    config = FovealConfig.model_validate(
        {
            "enabled": True,
            "budget": 60.0,
            "forest": {"trees": 30},
            "changepoint": {"enabled": False},
        }
    )
    foveal = Foveal(config)
    assert foveal.load()
    return foveal


def test_a_broken_relation_between_series_is_one_multivariate_symptom() -> None:
    foveal = forest_only()
    rng = np.random.default_rng(0)
    out: list[Symptom] = []
    phases = [(False, 0.0, 300), (True, 1.0, 30), (False, 1.0, 40)]
    t = 0
    for broken, salience, ticks in phases:
        for _ in range(ticks):
            req, cpu = related(rng, broken)
            tick = [
                Sample("svc.requests", req, float(t), "svc"),
                Sample("svc.cpu", cpu, float(t), "svc"),
            ]
            out += foveal.observe(tick, {"svc": salience})
            t += 1

    assert [(s.kind, s.state) for s in out] == [
        (MULTIVARIATE, SymptomState.FIRING),
        (MULTIVARIATE, SymptomState.CLEARED),
    ]
    fired, cleared = out
    assert 300.0 <= fired.ts < 330.0
    assert 330.0 <= cleared.ts < 370.0
    ev = fired.evidence
    assert ev["model"] == MODEL
    assert ev["score"] > ev["threshold"]
    assert ev["series_count"] == 2
    assert {c["series"] for c in ev["contributors"]} == {"svc.requests", "svc.cpu"}
    assert ev["series"] in {"svc.requests", "svc.cpu"}
    low, high = ev["expected_range"]
    assert low <= ev["expected"] <= high


def test_the_same_relation_kept_is_no_symptom() -> None:
    foveal = forest_only()
    rng = np.random.default_rng(1)
    out: list[Symptom] = []
    for t in range(400):
        req, cpu = related(rng, broken=False)
        tick = [
            Sample("svc.requests", req, float(t), "svc"),
            Sample("svc.cpu", cpu, float(t), "svc"),
        ]
        out += foveal.observe(tick, {"svc": 1.0 if t >= 300 else 0.0})
    assert out == []
    assert foveal.looks >= 20


def test_two_services_with_the_same_series_keep_their_own_history() -> None:
    history = History(window=4)
    for t in range(3):
        history.append(
            [
                Sample("service.rss_bytes", 100.0 + t, float(t), "service:a"),
                Sample("service.rss_bytes", 900.0 - t, float(t), "service:b"),
            ],
            float(t),
        )
    a, b = history.block("service:a"), history.block("service:b")
    assert a.values[:, 0].tolist() == [100.0, 101.0, 102.0]
    assert b.values[:, 0].tolist() == [900.0, 899.0, 898.0]
