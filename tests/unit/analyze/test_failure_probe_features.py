"""Failure features from a service's probe series: latency and error-rate level and trend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from setpoint.analyze.failure.dataset import DatasetSpec, build
from setpoint.analyze.failure.features import FEATURE_NAMES, Frame, feature_matrix
from setpoint.analyze.failure.predict import Recent
from setpoint.analyze.failure.series import Grid
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import open_store
from setpoint.model import HOST, Sample

T0 = 1_700_000_100.0  # a whole 5 minutes
LATENCY = "service.probe.latency_ms"
ERROR_RATE = "service.probe.error_rate"
PROBE_FEATURES = ["latency_median", "latency_trend", "error_rate", "error_rate_trend"]


def grid(values: np.ndarray) -> Grid:
    """A grid from T0 with one reading per minute."""
    g = Grid.empty(T0, len(values))
    g.add(T0 + 60.0 * np.arange(len(values), dtype=np.float64), values)
    return g


def row(own: dict[str, Grid]) -> dict[str, float]:
    frame = Frame(np.array([T0 + 1800.0]), own, {}, np.empty(0), 30)
    return dict(zip(FEATURE_NAMES, feature_matrix(frame)[0].tolist(), strict=True))


def test_a_slowing_failing_service_has_rising_latency_and_errors_a_steady_one_none() -> None:
    minutes = np.arange(30.0)
    degrading = row(
        {LATENCY: grid(20.0 + 2.0 * minutes), ERROR_RATE: grid(np.minimum(minutes / 58, 1.0))}
    )
    steady = row({LATENCY: grid(np.full(30, 20.0)), ERROR_RATE: grid(np.zeros(30))})
    assert degrading["latency_median"] == pytest.approx(49.0)
    assert degrading["latency_trend"] == pytest.approx(2.0 * 60 / 49.0)  # +245 % of it an hour
    assert degrading["error_rate"] == pytest.approx(np.mean(minutes / 58))
    assert degrading["error_rate_trend"] == pytest.approx(60 / 58)
    assert steady["latency_median"] == 20.0 and steady["latency_trend"] == 0.0
    assert steady["error_rate"] == 0.0 and steady["error_rate_trend"] == 0.0


def test_without_probe_series_the_probe_features_are_missing_not_zero() -> None:
    found = row({"service.rss_bytes": grid(np.full(30, 1e8))})
    assert all(np.isnan(found[name]) for name in PROBE_FEATURES)
    assert found["rss_trend"] == 0.0


def readings(store: KnowledgeStore, entity: str, end: float, probe: bool) -> None:
    """Process readings every minute from T0 to ``end``, and probe readings when asked."""
    ts = np.arange(T0, end, 60.0).tolist()
    batch = [Sample("service.rss_bytes", 1e8, t, entity) for t in ts]
    batch += [Sample("host.disk.busy_percent", 5.0, t, HOST) for t in ts]
    if probe:
        latency = np.linspace(5.0, 50.0, len(ts)).tolist()
        batch += [Sample(LATENCY, v, t, entity) for t, v in zip(ts, latency, strict=True)]
        batch += [Sample(ERROR_RATE, 0.1, t, entity) for t in ts]
    store.samples.append(batch)


def test_a_dataset_has_probe_columns_filled_only_for_services_that_have_a_probe(
    tmp_path: Path,
) -> None:
    end = T0 + 4 * 3600.0
    with open_store(None, tmp_path) as store:
        readings(store, "service:probed", end, probe=True)
        readings(store, "service:bare", end, probe=False)
        data = build(store, DatasetSpec(history=4 * 3600.0), end)
        recent = Recent(1800.0)
        recent.update(store.samples, end)
    assert data.features == FEATURE_NAMES and data.x.shape[1] == len(FEATURE_NAMES)
    columns = np.array([FEATURE_NAMES.index(name) for name in PROBE_FEATURES])
    probed = np.array([e == "service:probed" for e in data.entities])
    assert probed.any() and (~probed).any()
    assert np.isfinite(data.x[np.ix_(probed, columns)]).all()
    assert np.isnan(data.x[np.ix_(~probed, columns)]).all()
    error_rate = data.x[probed, FEATURE_NAMES.index("error_rate")]
    assert error_rate == pytest.approx(0.1)
    assert (data.x[probed, FEATURE_NAMES.index("latency_trend")] > 0).all()
    grids = recent.grids(end - 1800.0, end)  # what the agent assesses from
    assert {LATENCY, ERROR_RATE} <= set(grids["service:probed"])
    assert not {LATENCY, ERROR_RATE} & set(grids["service:bare"])


def test_a_store_without_any_probe_series_gives_the_same_shape(tmp_path: Path) -> None:
    end = T0 + 3 * 3600.0
    with open_store(None, tmp_path) as store:
        readings(store, "service:bare", end, probe=False)
        data = build(store, DatasetSpec(history=3 * 3600.0), end)
    columns = np.array([FEATURE_NAMES.index(name) for name in PROBE_FEATURES])
    assert len(data.y) > 0 and data.x.shape == (len(data.y), len(FEATURE_NAMES))
    assert np.isnan(data.x[:, columns]).all()
    assert np.isfinite(data.x[:, FEATURE_NAMES.index("rss_trend")]).all()
