"""Failure features on per-minute grids, and grids read back from a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from setpoint.analyze.failure import series
from setpoint.analyze.failure.features import FEATURE_NAMES, Frame, feature_matrix
from setpoint.analyze.failure.series import Grid, load
from setpoint.knowledge.open import open_store
from setpoint.model import HOST, Sample

T0 = 1_700_000_040.0  # a whole minute


def grid(values: np.ndarray, peaks: np.ndarray | None = None) -> Grid:
    """A grid from T0 with one reading per minute (and a peak reading when given)."""
    g = Grid.empty(T0, len(values))
    t = T0 + 60.0 * np.arange(len(values), dtype=np.float64)
    g.add(t, values)
    if peaks is not None:
        g.add(t + 30.0, peaks)
    return g


def row(own: dict[str, Grid], host: dict[str, Grid] | None = None, failures=()) -> dict[str, float]:
    frame = Frame(np.array([T0 + 1800.0]), own, host or {}, np.array(failures, float), 30)
    return dict(zip(FEATURE_NAMES, feature_matrix(frame)[0].tolist(), strict=True))


def test_a_leak_has_a_steep_steady_rise_and_flat_memory_has_none() -> None:
    rng = np.random.default_rng(1)
    leak = row({"service.rss_bytes": grid(1e8 + 3e6 * np.arange(30.0))})
    flat = row({"service.rss_bytes": grid(1e8 + rng.normal(0, 1e6, 30))})
    assert leak["rss_trend"] == pytest.approx(3e6 * 60 / np.median(1e8 + 3e6 * np.arange(30)))
    assert leak["rss_rising"] == 1.0
    assert abs(flat["rss_trend"]) < 0.05
    assert 0.2 < flat["rss_rising"] < 0.8


def test_one_wild_minute_does_not_tilt_the_robust_trend() -> None:
    values = np.full(30, 1e8)
    values[-1] = 5e8
    assert row({"service.rss_bytes": grid(values)})["rss_trend"] == 0.0


def test_cpu_spikes_are_counted_against_the_typical_peak() -> None:
    rng = np.random.default_rng(2)
    means = 5 + rng.normal(0, 0.5, 30)
    peaks = means + 1.0
    peaks[[4, 12, 20]] = 95.0
    found = row({"service.cpu_percent": grid(means, peaks)})
    assert found["cpu_spikes"] == pytest.approx(3 / 30)
    assert found["cpu_peak"] == 95.0
    assert 4 < found["cpu_median"] < 6


def test_missing_or_short_series_are_missing_values_not_zeros() -> None:
    short = np.full(30, np.nan)
    short[-3:] = 7.0
    found = row({"service.rss_bytes": grid(short)})
    assert np.isnan(found["rss_trend"]) and np.isnan(found["cpu_median"])
    assert np.isnan(found["io_busy"]) and np.isnan(found["hours_since_failure"])
    assert found["failures_24h"] == 0.0


def test_fd_use_host_context_and_failure_record() -> None:
    own = {"service.fds": grid(np.full(30, 256.0)), "service.fds_limit": grid(np.full(30, 1024.0))}
    host = {"host.disk.busy_percent": grid(np.linspace(10, 70, 30))}
    found = row(own, host, failures=[T0 - 90000.0, T0 - 7200.0])
    assert found["fds_used"] == 0.25
    assert found["io_busy"] == pytest.approx(40.0)
    assert found["io_busy_trend"] == pytest.approx(60 / 29 * 60)
    assert found["hours_since_failure"] == pytest.approx(2.5)
    assert found["failures_24h"] == 1.0


def test_load_bins_stored_samples_per_entity_and_splits_full_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(series, "QUERY_LIMIT", 25)
    with open_store(None, tmp_path) as store:
        store.samples.append(
            [Sample("service.rss_bytes", float(i), T0 + 10.0 * i, "service:a") for i in range(120)]
            + [Sample("service.rss_bytes", 1.0, T0 + 10.0 * i, "service:b") for i in range(60)]
            + [Sample("host.disk.busy_percent", 3.0, T0 + 10.0 * i, HOST) for i in range(60)]
        )
        history = load(store.samples, ["service.rss_bytes"], T0, T0 + 1500.0)
        host = load(store.samples, ["host.disk.busy_percent"], T0, T0 + 1500.0, entity=HOST)
    assert sorted(history) == ["service:a", "service:b"]
    a = history["service:a"]["service.rss_bytes"]
    assert a.count[:20].tolist() == [6.0] * 20
    assert a.mean[:3].tolist() == [2.5, 8.5, 14.5]
    assert a.peak[:3].tolist() == [5.0, 11.0, 17.0]
    assert np.isnan(a.mean[-1])
    assert host[HOST]["host.disk.busy_percent"].count.sum() == 60
