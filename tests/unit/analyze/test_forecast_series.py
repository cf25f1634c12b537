"""Stored samples and hourly roll-ups as a regular series, against a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from setpoint.analyze.forecasting.base import NotEnoughHistory
from setpoint.analyze.forecasting.forecaster import ForecastPolicy, forecast_series
from setpoint.analyze.forecasting.series import load_series
from setpoint.knowledge.open import open_store
from setpoint.model import Sample

T0 = 1_700_006_400.0
"""A whole day since the epoch, so buckets and hours line up with it."""


def test_samples_are_averaged_per_bucket_and_holes_interpolated(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        # Four buckets of 15 minutes; the third has no sample.
        store.samples.append(
            [
                Sample("host.load1", 1.0, T0 + 10),
                Sample("host.load1", 3.0, T0 + 500),
                Sample("host.load1", 4.0, T0 + 900),
                Sample("host.load1", 8.0, T0 + 2700),
                Sample("host.load2", 99.0, T0 + 2700),
            ]
        )
        series = load_series(store.samples, "host.load1", T0 + 3600, 3600.0, 900.0)
    assert series.start == T0 and series.end == T0 + 3600
    assert series.values.tolist() == [2.0, 4.0, 6.0, 8.0] and series.filled == 1


def test_purged_hours_come_back_from_the_hourly_rollups(tmp_path: Path) -> None:
    ts = np.arange(T0, T0 + 4 * 3600, 60.0)
    with open_store(None, tmp_path) as store:
        store.samples.append([Sample("host.cpu.percent", float(t - T0) / 3600, t) for t in ts])
        # Keep the last hour of samples only; the first three live on as roll-ups.
        store.samples.retain(T0 + 4 * 3600, keep_samples=3600.0, keep_hourly=86400.0)
        assert store.samples.query("host.cpu.percent", end=T0 + 3 * 3600 - 1) == []
        series = load_series(store.samples, "host.cpu.percent", T0 + 4 * 3600, 4 * 3600, 900.0)
    assert len(series) == 16 and series.filled == 12
    hourly_means = series.values[:12].reshape(3, 4)
    assert np.allclose(hourly_means, np.array([[0.4917], [1.4917], [2.4917]]), atol=1e-3)


def test_trailing_silence_moves_the_origin_back(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        store.samples.append([Sample("host.load1", 1.0, T0 + 60 * i) for i in range(30)])
        series = load_series(store.samples, "host.load1", T0 + 86400, 86400.0, 900.0)
    assert series.start == T0 and series.end == T0 + 1800 and series.filled == 0


def test_unknown_or_short_series_is_a_clear_error(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        with pytest.raises(NotEnoughHistory, match=r"no samples of 'host\.nope' in the last 14d"):
            forecast_series(store.samples, "host.nope", T0, ForecastPolicy())
        store.samples.append([Sample("host.load1", 1.0, T0 + 60 * i) for i in range(60)])
        with pytest.raises(NotEnoughHistory, match=r"host\.load1: 1h of history in 15m buckets;"):
            forecast_series(store.samples, "host.load1", T0 + 7200, ForecastPolicy())
