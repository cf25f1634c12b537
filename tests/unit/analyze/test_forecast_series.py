"""Stored samples and hourly roll-ups as a regular series, against a real store.

Mostly SQLite; the test of two services' series runs on PostgreSQL too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from setpoint.analyze.forecasting.base import NotEnoughHistory
from setpoint.analyze.forecasting.forecaster import ForecastPolicy, forecast_series
from setpoint.analyze.forecasting.series import load_series
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import open_store
from setpoint.model import Sample
from tests.postgres import throwaway_schema

T0 = 1_700_006_400.0
"""A whole day since the epoch, so buckets and hours line up with it."""

DAY = 86400.0


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeStore]:
    """An empty store: SQLite in a temp dir, or a throwaway PostgreSQL schema."""
    if request.param == "sqlite":
        with open_store(None, tmp_path) as opened:
            yield opened
        return
    with throwaway_schema() as (url, _), open_store(url, tmp_path) as opened:
        yield opened


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
        with pytest.raises(
            NotEnoughHistory, match=r"no samples of 'host\.nope' on host in the last 14d"
        ):
            forecast_series(store.samples, "host.nope", T0, ForecastPolicy())
        store.samples.append([Sample("host.load1", 1.0, T0 + 60 * i) for i in range(60)])
        with pytest.raises(
            NotEnoughHistory, match=r"'host\.load1' on host: 1h of history in 15m buckets;"
        ):
            forecast_series(store.samples, "host.load1", T0 + 7200, ForecastPolicy())
        with pytest.raises(NotEnoughHistory, match=r"'host\.load1' on service:web in the last"):
            forecast_series(
                store.samples, "host.load1", T0 + 7200, ForecastPolicy(), entity="service:web"
            )


def test_two_services_series_are_read_and_forecast_apart(store: KnowledgeStore) -> None:
    """web's and api's service.rss_bytes share a key: each is read and modelled alone.

    Three days a minute apart; web swings around 100 MB, api around 500 MB with its
    peak half a day later. The first day lives on only as hourly roll-ups.
    """
    pytest.importorskip("statsmodels")
    shapes = {"service:web": (100e6, 20e6), "service:api": (500e6, -50e6)}
    ts = np.arange(T0, T0 + 3 * DAY, 60.0)
    for entity, (level, swing) in shapes.items():
        values = level + swing * np.sin(2 * np.pi * ts / DAY)
        store.samples.append(
            [
                Sample("service.rss_bytes", float(v), float(t), entity)
                for t, v in zip(ts, values, strict=True)
            ]
        )
    store.samples.append([Sample("host.load1", 1.0, float(t)) for t in ts[::10]])
    store.samples.retain(T0 + 3 * DAY, keep_samples=2 * DAY, keep_hourly=30 * DAY)
    end = T0 + 3 * DAY
    policy = ForecastPolicy(history=4 * DAY)
    for entity, (level, swing) in shapes.items():
        values = level + swing * np.sin(2 * np.pi * ts / DAY)
        series = load_series(store.samples, "service.rss_bytes", end, 4 * DAY, 900.0, entity)
        assert series.entity == entity and series.start == T0 and len(series) == 288
        assert series.filled == 96  # the first day, from the roll-ups of this entity only
        expected = values.reshape(288, 15).mean(axis=1)
        assert np.allclose(series.values[96:], expected[96:], rtol=1e-9)
        hourly = values.reshape(72, 60).mean(axis=1)[:24]
        assert np.allclose(series.values[:96], np.repeat(hourly, 4), rtol=1e-9)
        made = forecast_series(store.samples, "service.rss_bytes", end, policy, entity=entity)
        assert made.key == "service.rss_bytes" and made.entity == entity
        for point in made.points:
            expected = level + swing * np.sin(2 * np.pi * (point.ts - 450) / DAY)
            assert abs(point.mean - expected) < 5e6  # mixed would be ~300 MB off
    host = load_series(store.samples, "host.load1", end, 4 * DAY, 900.0)
    assert host.entity == "host" and np.allclose(host.values, 1.0)
