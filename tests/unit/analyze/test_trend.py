"""Trend windows start where a fall began: the knee, found past older changes."""

from __future__ import annotations

import numpy as np

from setpoint.analyze.trend import TrendPolicy, onset, sustained_trend

MIB = 2**20
POLICY = TrendPolicy(min_duration=10, duration_fraction=0.35)


def _leak(start: int, rate: float, before: list[float] | None = None) -> list[float]:
    """Headroom of a 1 GiB domain: ``before`` readings, flat until ``start``, then a leak."""
    rng = np.random.default_rng(7)
    flat = 880.0
    head = [*(before or []), *([flat] * start)]
    fall = [flat - rate * i for i in range(1, 40)]
    return [(v + rng.normal(0, 0.2)) * MIB for v in [*head, *fall]]


def test_onset_finds_the_knee_in_noisy_readings() -> None:
    y = np.array(_leak(30, 20.0))
    t = np.arange(len(y), dtype=np.float64)

    assert abs(onset(t, y, 8) - 30) <= 1


def test_onset_of_a_series_that_never_falls_is_its_start() -> None:
    t = np.arange(40, dtype=np.float64)

    assert onset(t, 100.0 + t, 8) == 0


def _first(headroom: list[float], policy: TrendPolicy) -> tuple[int, float] | None:
    """Readings (1 s apart) seen when a trend is first found, and its ETA."""
    for n in range(policy.min_points, len(headroom) + 1):
        ts = [float(i) for i in range(n)]
        found = sustained_trend(ts, headroom[:n], policy)
        if found is not None:
            return n, found.eta
    return None


def test_a_leak_after_a_process_start_is_found_from_its_onset() -> None:
    """A start (memory jumps, then a flat stretch) before the leak must not hide its onset.

    20 MiB/s into 880 MiB of headroom: 44 s to the limit. With a 10 s / 35 % policy the
    earliest possible trend is 11.4 s in; a grid window that happens to fit comes later,
    or bent into a parabola by the flat stretch, with an ETA far too short.
    """
    started = [1000.0, 990.0, 930.0, 885.0]
    headroom = _leak(8, 20.0, before=started)
    first = _first(headroom, POLICY)

    assert first is not None
    seen, eta = first
    leaked = seen - len(started) - 8
    assert leaked <= 13, "found within a second or two of the earliest the policy allows"
    truth = 44.0 - leaked
    assert abs(eta - truth) / truth < 0.1


def test_the_eta_after_a_quiet_spell_is_not_bent_into_a_parabola() -> None:
    headroom = _leak(60, 10.0)
    ts = [float(i) for i in range(len(headroom))]

    found = sustained_trend(ts, headroom, POLICY)

    assert found is not None and found.model == "theil-sen"
    assert abs(found.eta - (88.0 - 39)) < 2.0
