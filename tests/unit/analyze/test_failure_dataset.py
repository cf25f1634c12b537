"""Labelled rows from a real SQLite store: which rows foresee which failure, which are left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from setpoint.analyze.failure.dataset import DatasetSpec, build, failures
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import open_store
from setpoint.model import HOST, Incident, IncidentStatus, Sample, Symptom

T0 = 1_700_000_100.0  # a multiple of the 300 s step
SPEC = DatasetSpec(history=6 * 3600.0)


def readings(store: KnowledgeStore, entity: str, start: float, end: float) -> None:
    store.samples.append(
        [Sample("service.rss_bytes", 1e8, t, entity) for t in np.arange(start, end, 60.0)]
        + [Sample("host.disk.busy_percent", 5.0, t, HOST) for t in np.arange(start, end, 60.0)]
    )


def incident(store: KnowledgeStore, id: str, entity: str, at: float, *kinds: str) -> None:
    store.incidents.save(
        Incident(id, entity, at, IncidentStatus.RESOLVED, kinds, resolved_at=at + 600.0)
    )


def test_rows_before_a_failure_are_positive_and_rows_during_it_are_left_out(
    tmp_path: Path,
) -> None:
    end = T0 + 6 * 3600.0
    failed = T0 + 3 * 3600.0
    with open_store(None, tmp_path) as store:
        readings(store, "service:a", T0, end)
        readings(store, "service:b", T0, end)
        incident(store, "down-1", "service:a", failed, "service.down")
        incident(store, "noise", "service:b", failed, "anomaly")
        data = build(store, SPEC, end)
    a = np.array([e == "service:a" for e in data.entities])
    ts, y = data.ts[a], data.y[a]
    assert ts.min() >= T0 + 300.0  # five minutes of readings at least
    assert ts.max() <= end - SPEC.horizon  # the label of later rows is not known yet
    positive = ts[y == 1]
    assert positive.tolist() == [failed - 1800 + 300 * k for k in range(6)]
    assert {i for i, e in zip(data.incident, data.entities, strict=True) if i} == {"down-1"}
    assert not ((ts >= failed) & (ts < failed + 600.0)).any()  # down: nothing to predict
    assert data.y[~a].sum() == 0  # an anomaly is not a failure
    assert data.foreseen == 1 and data.positives == 6
    assert data.x.shape == (len(data.y), len(data.features))
    assert HOST not in data.entities


def test_a_failure_starts_at_its_symptom_not_at_the_prediction_that_opened_it(
    tmp_path: Path,
) -> None:
    predicted, down = T0 + 3600.0, T0 + 4000.0
    with open_store(None, tmp_path) as store:
        incident(store, "i", "service:a", predicted, "failure.predicted", "service.down")
        store.symptoms.record(Symptom("failure.predicted", "service:a", predicted, incident_id="i"))
        store.symptoms.record(Symptom("service.down", "service:a", down, incident_id="i"))
        found = failures(store, SPEC.label_kinds, T0)
    assert [(f.entity, f.ts, f.until, f.incident_id) for f in found] == [
        ("service:a", down, predicted + 600.0, "i")
    ]


def test_an_empty_store_gives_an_empty_dataset(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        data = build(store, SPEC, T0)
    assert data.x.shape == (0, len(data.features)) and data.foreseen == 0
