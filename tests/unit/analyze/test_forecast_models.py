"""Forecast models on generated series: accuracy, interval coverage, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from setpoint.analyze.forecasting.base import NotEnoughHistory
from setpoint.analyze.forecasting.models import ModelSpec, fit

pytest.importorskip("statsmodels")

DAY = 96
"""15-minute buckets in a day."""


def daily(days: float, seed: int = 0, noise: float = 0.3) -> np.ndarray:
    """A daily sinusoid with a slow upward trend and Gaussian noise, in 15-minute buckets."""
    t = np.arange(int(days * DAY), dtype=float)
    rng = np.random.default_rng(seed)
    return 50 + 10 * np.sin(2 * np.pi * t / DAY) + 0.02 * t + rng.normal(0, noise, t.size)


def r2(predicted: list[float], actual: list[float]) -> float:
    p, a = np.asarray(predicted), np.asarray(actual)
    return float(1 - np.sum((a - p) ** 2) / np.sum((a - a.mean()) ** 2))


def test_one_hour_ahead_is_accurate_and_intervals_cover_about_nominal() -> None:
    y = daily(16)
    model = fit(y[: 12 * DAY], ModelSpec())
    assert model.seasonal and model.name == "ETS(A,N,A) season 96"
    predicted, actual, inside = [], [], {0.8: 0, 0.95: 0}
    origins = range(12 * DAY, 16 * DAY - 4, 2)
    for origin in origins:
        (p,) = model.update(y[origin - 12 * DAY : origin]).predict([4], [0.8, 0.95])
        truth = float(y[origin + 3])
        predicted.append(p.mean)
        actual.append(truth)
        for band in p.intervals:
            inside[band.level] += band.lower <= truth <= band.upper
    assert r2(predicted, actual) > 0.95
    assert 0.7 <= inside[0.8] / len(origins) <= 0.95
    assert 0.88 <= inside[0.95] / len(origins) <= 1.0


def test_intervals_widen_with_the_horizon_and_are_nested() -> None:
    model = fit(daily(7), ModelSpec(trend=True))
    near, far = model.predict([4, 96], [0.8, 0.95])
    assert model.name == "ETS(A,Ad,A) season 96"
    for p in (near, far):
        eighty, ninety_five = p.intervals
        assert ninety_five.lower < eighty.lower < p.mean < eighty.upper < ninety_five.upper
    assert far.intervals[1].upper - far.intervals[1].lower > (
        near.intervals[1].upper - near.intervals[1].lower
    )


def test_short_history_falls_back_to_a_non_seasonal_model() -> None:
    y = daily(1.5)
    model = fit(y, ModelSpec())
    assert not model.seasonal and model.name == "ETS(A,N,N)"
    (p,) = model.predict([4], [0.95])
    assert np.isfinite(p.mean) and p.intervals[0].lower < p.mean < p.intervals[0].upper


def test_too_little_history_is_refused() -> None:
    with pytest.raises(NotEnoughHistory, match="too few"):
        fit(daily(1)[:9], ModelSpec())
    seasonal = fit(daily(3), ModelSpec())
    with pytest.raises(NotEnoughHistory, match="season 96"):
        seasonal.update(daily(1))


def test_sarima_is_a_configurable_alternative() -> None:
    hourly = daily(4)[::4]  # 24 buckets a day
    model = fit(
        hourly, ModelSpec(kind="sarima", season=24, order=(1, 0, 0), seasonal_order=(0, 1, 0))
    )
    assert model.seasonal and model.name == "SARIMA(1,0,0)(0,1,0,24)"
    (p,) = model.update(hourly[4:]).predict([6], [0.95])
    lower, upper = p.intervals[0].lower, p.intervals[0].upper
    assert lower < p.mean < upper and np.isfinite(upper)
