"""The peripheral tier's state: saved mid-stream and restored, it goes on as if never stopped."""

from __future__ import annotations

import math
import re
from dataclasses import asdict
from typing import Any

import numpy as np
import pytest

from setpoint.analyze.peripheral import STATE_VERSION, Peripheral, PeripheralConfig, Season
from setpoint.analyze.snapshot import decode, encode
from setpoint.errors import KnowledgeError
from setpoint.model import Sample, Symptom

PERIOD = 200.0
SERIES = [("cpu", "host"), ("load", "host"), ("rss", "service:web"), ("conns", "service:web")]


def config(window: int = 64) -> PeripheralConfig:
    return PeripheralConfig(
        window=window,
        warmup=20,
        refresh=16,
        persist=2,
        clear_after=3,
        seasons=(Season(seconds=PERIOD, buckets=20),),
    )


def tick(t: int, rng: np.random.Generator, spike: bool = False) -> list[Sample]:
    """One tick of every series: noise, a burst at the same phase of each period."""
    out = []
    for i, (series, entity) in enumerate(SERIES):
        value = 10.0 * (i + 1) + rng.normal(0.0, 1.0)
        if 150 <= t % PERIOD < 160 and series == "load":
            value += 40.0  # recurs each period: seasonal, never an anomaly once learned
        if spike and series == "rss":
            value += 500.0
        out.append(Sample(series, value, float(t), entity, {"n": str(i)}))
    if t >= 760:
        out.append(Sample("late", 1.0 + 0.1 * (t % 3), float(t)))  # a series new after restore
    return out


def run(tier: Peripheral, start: int, end: int, seed: int) -> list[tuple[list[Any], Any]]:
    """Feed ticks [start, end) with a spike at 800-805; return symptoms and salience per tick."""
    rng = np.random.default_rng(seed)
    seen = []
    for t in range(start, end):
        symptoms = tier.observe(tick(t, rng, spike=800 <= t < 806))
        seen.append(([_comparable(s) for s in symptoms], tier.salience()))
    return seen


def _comparable(symptom: Symptom) -> dict[str, Any]:
    out = asdict(symptom)
    del out["id"], out["clears"]  # fresh ids on every run
    return out


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for name, value in a.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, b[name], err_msg=name)
        else:
            assert value == b[name], name


def test_a_restored_tier_scores_the_next_points_exactly_as_the_original() -> None:
    original = Peripheral(config())
    run(original, 0, 700, seed=1)  # 3.5 periods: the seasons know the burst; 700 % 16 pending
    snapshot = original.get_state()
    expected = run(original, 700, 1000, seed=2)  # goes on before the writer encodes it
    restored = Peripheral(config())
    restored.set_state(decode(encode(snapshot)))
    assert len(restored) == len(SERIES)

    assert run(restored, 700, 1000, seed=2) == expected
    assert_same_state(restored.get_state(), original.get_state())
    fired = [s for symptoms, _ in expected for s in symptoms]
    assert [(s["entity"], s["state"], s["ts"]) for s in fired] == [
        ("service:web", "firing", 801.0),
        ("service:web", "cleared", 808.0),
    ]


def test_a_restored_tier_is_past_warm_up_and_a_fresh_one_is_not() -> None:
    original = Peripheral(config())
    run(original, 0, 780, seed=1)
    restored = Peripheral(config())
    restored.set_state(decode(encode(original.get_state())))

    def anomalies(tier: Peripheral) -> list[str]:
        return [s["evidence"]["series"] for symptoms, _ in run(tier, 780, 810, 3) for s in symptoms]

    assert anomalies(restored) == ['rss{n="2"}'] * 2  # fires, then clears
    assert anomalies(Peripheral(config())) == []


def test_an_empty_tier_round_trips() -> None:
    tier = Peripheral(config())
    tier.set_state(decode(encode(Peripheral(config()).get_state())))
    assert len(tier) == 0
    assert run(tier, 0, 40, seed=1)[-1][0] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": STATE_VERSION + 1}, "state version 2; this setpoint reads 1"),
        ({"window": 128}, "state has window 128, the config 64"),
        ({"seasons": []}, "state has seasons [], the config [[200.0, 20]]"),
        ({"keys": ["cpu"]}, "not one string per series"),
        ({"buf": np.zeros((4, 3))}, "'buf' must be a float64 array of shape (4, 64)"),
        ({"count": np.zeros(4)}, "'count' must be a int64 array of shape (4,)"),
        ({"season.0.lo": np.zeros(3)}, "'lo' must be a float64 array"),
        ({"pending.sizes": [1, -1]}, "pending ticks are not one time and size each"),
        ({"pending.rows": np.full(12 * 4, 9)}, "pending rows name series it does not hold"),
        ({"ticks": "7"}, "'ticks' must be int"),
    ],
)
def test_a_state_that_does_not_fit_is_refused_and_changes_nothing(
    change: dict[str, Any], message: str
) -> None:
    source = Peripheral(config())
    run(source, 0, 700, seed=1)
    tier = Peripheral(config())
    run(tier, 0, 50, seed=4)
    before = tier.get_state()

    with pytest.raises(KnowledgeError, match=re.escape(message)):
        tier.set_state({**source.get_state(), **change})
    assert_same_state(tier.get_state(), before)


@pytest.mark.parametrize("blob", [b"", b"junk", encode({"version": 1})[:-30]])
def test_corrupt_bytes_are_refused(blob: bytes) -> None:
    with pytest.raises(KnowledgeError, match="unreadable state"):
        decode(blob)


def test_ten_thousand_series_state_holds_every_row() -> None:
    tier = Peripheral(PeripheralConfig(window=16, warmup=3, seasons=()))
    for t in range(4):
        tier.observe([Sample(f"s{i}", float(i + t), float(t)) for i in range(10_000)])
    state = decode(encode(tier.get_state()))
    assert len(state["keys"]) == 10_000 and state["buf"].shape == (10_000, 16)
    assert math.isnan(state["buf"][0, 4]) and state["buf"][9_999, 3] == 10_002.0
