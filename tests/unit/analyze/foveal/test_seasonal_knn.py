"""Period detection and the same-phase neighbour distance on hand-made daily patterns."""

from __future__ import annotations

import numpy as np

from setpoint.analyze.base import FloatArray
from setpoint.analyze.checks import roc_auc
from setpoint.analyze.foveal.knn import NearestNeighbour
from setpoint.analyze.foveal.seasonal_knn import SeasonalNeighbour, detect_period

DAY = 96
"""Rows per day in these tests (15-minute samples)."""


def days(count: int, seed: int) -> FloatArray:
    """Three metrics following the day (load, its echo, a flat one), with noise."""
    t = np.arange(count * DAY)
    load = 0.5 + 0.4 * np.sin(2 * np.pi * t / DAY) + 0.1 * np.sin(6 * np.pi * t / DAY)
    noise = np.random.default_rng(seed).normal(0.0, 0.03, (t.size, 3))
    return np.column_stack([load, 0.8 * load, np.full(t.size, 0.2)]) + noise


def test_the_period_is_found_in_noisy_days_and_not_in_noise() -> None:
    assert detect_period(days(10, seed=0), 0.5) == DAY
    rng = np.random.default_rng(1)
    assert detect_period(rng.normal(size=(3000, 3)), 0.5) is None
    assert detect_period(np.cumsum(rng.normal(size=(3000, 3)), axis=0), 0.5) is None
    assert detect_period(np.ones((500, 2)), 0.5) is None


def test_a_normal_load_at_the_wrong_hour_is_found() -> None:
    train, test = days(14, seed=2), days(14 + 3, seed=3)[14 * DAY :]
    labels = np.zeros(len(test))
    # For two hours, the metrics show the load of twelve hours later: in range, off time.
    start = DAY + DAY // 4
    test[start : start + 8] = test[start + DAY // 2 : start + DAY // 2 + 8]
    labels[start : start + 8] = 1.0
    seasonal = SeasonalNeighbour()
    seasonal.fit(train)
    assert seasonal.period == DAY
    plain = NearestNeighbour()
    plain.fit(train)
    assert roc_auc(seasonal.score(test), labels) > 0.95
    assert roc_auc(plain.score(test), labels) < 0.8


def test_same_phase_scores_are_causal_and_pure() -> None:
    detector = SeasonalNeighbour()
    detector.fit(days(8, seed=4))
    test = days(2, seed=5)
    kept = test.copy()
    whole = detector.score(test)
    for end in (1, 7, DAY + 3):
        np.testing.assert_allclose(detector.score(test[:end]), whole[:end], rtol=1e-12)
    assert np.array_equal(test, kept)


def test_a_given_period_and_a_half_period_tolerance() -> None:
    train = days(6, seed=6)
    given = SeasonalNeighbour(SeasonalNeighbour.Config(period=50))
    given.fit(train)
    assert given.period == 50
    # Within half a period of every phase means every training row: no season at all.
    everywhere = SeasonalNeighbour(SeasonalNeighbour.Config(tolerance=0.5))
    unseasonal = SeasonalNeighbour(SeasonalNeighbour.Config(strength=1.0))
    everywhere.fit(train)
    unseasonal.fit(train)
    assert unseasonal.period is None
    probe = days(1, seed=7)
    np.testing.assert_allclose(everywhere.score(probe), unseasonal.score(probe), rtol=1e-12)
