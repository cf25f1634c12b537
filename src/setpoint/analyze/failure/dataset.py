"""A labelled dataset from the knowledge store: did a failure follow within the horizon.

For every service entity and every ``step`` of its history, one row: the features of
the ``window`` before ``t`` (:mod:`~setpoint.analyze.failure.features`), labelled 1
when one of the entity's failures starts in (t, t + horizon]. A *failure* is an
incident with a symptom of one of ``label_kinds`` (``service.down`` and
``service.unhealthy`` by default); it starts at that symptom, not when the incident
opened, so an incident opened by a prediction is not counted from the prediction.

Left out: rows while a failure is in progress (the service is down, nothing is left to
predict), rows whose horizon reaches past the end of the history (their label is not
known yet) and rows with fewer than :data:`~setpoint.analyze.failure.features.MIN_BINS`
minutes of the entity's own readings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from setpoint.analyze.failure.features import FEATURE_NAMES, MIN_BINS, Frame, feature_matrix
from setpoint.analyze.failure.series import BIN, HOST_SERIES, SERVICE_SERIES, Grid, load
from setpoint.knowledge.base import KnowledgeStore
from setpoint.model import HOST, Incident, SymptomState

INCIDENT_LIMIT = 1_000_000
"""Incidents read at most (all of them, in practice)."""


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """How rows are cut from history: lookback, label horizon, step, kinds, how far back."""

    window: float = 1800.0
    horizon: float = 1800.0
    step: float = 300.0
    history: float = 30 * 86400.0
    label_kinds: tuple[str, ...] = ("service.down", "service.unhealthy")


@dataclass(frozen=True, slots=True)
class Failure:
    """One failure of an entity: from ``ts`` (its first failure symptom) to ``until``."""

    entity: str
    ts: float
    until: float
    incident_id: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """Feature rows ``x`` with labels ``y``, their times, entities and failures.

    ``incident`` holds, for a positive row, the id of the failure it foresees ("" for
    a negative one).
    """

    x: NDArray[np.float64]
    y: NDArray[np.int8]
    ts: NDArray[np.float64]
    entities: list[str]
    incident: list[str]
    spec: DatasetSpec
    failures: list[Failure] = field(default_factory=list)
    features: tuple[str, ...] = FEATURE_NAMES

    @property
    def positives(self) -> int:
        """Rows labelled 1."""
        return int(self.y.sum())

    @property
    def foreseen(self) -> int:
        """Failures that at least one positive row foresees."""
        return len({i for i in self.incident if i})


def failures(
    store: KnowledgeStore,
    kinds: Sequence[str],
    since: float,
    limit: int = INCIDENT_LIMIT,
    starts: dict[str, float] | None = None,
) -> list[Failure]:
    """The failures (see the module) among the newest ``limit`` incidents opened after ``since``.

    Oldest first. ``starts`` caches each incident's failure start across calls, so
    the symptoms of an incident are read at most once.
    """
    cache = {} if starts is None else starts
    found = []
    for incident in store.incidents.list(limit=limit):
        if incident.opened_at < since or not set(kinds) & set(incident.kinds):
            continue
        start = cache.get(incident.id)
        if start is None:
            start = _failure_start(store, incident, kinds)
            if start is not None:
                cache[incident.id] = start
        until = incident.resolved_at if incident.resolved_at is not None else math.inf
        at = incident.opened_at if start is None else start
        found.append(Failure(incident.entity, at, until, incident.id))
    return sorted(found, key=lambda f: f.ts)


def _failure_start(store: KnowledgeStore, incident: Incident, kinds: Sequence[str]) -> float | None:
    """When the incident's first failure symptom fired; None while it is not stored yet."""
    if incident.kinds[0] in kinds:
        return incident.opened_at
    fired = [
        s.ts
        for s in store.symptoms.for_incident(incident.id)
        if s.kind in kinds and s.state is SymptomState.FIRING
    ]
    return min(fired, default=None)


def build(store: KnowledgeStore, spec: DatasetSpec, now: float) -> Dataset:
    """The labelled rows of every service in the store's last ``spec.history`` before now."""
    start = now - spec.history
    known = failures(store, spec.label_kinds, start - spec.horizon)
    own = load(store.samples, SERVICE_SERIES, start, now)
    host = load(store.samples, HOST_SERIES, start, now, entity=HOST).get(HOST, {})
    parts = [_rows(entity, own[entity], host, known, spec, start, now) for entity in own]
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return Dataset(
            np.empty((0, len(FEATURE_NAMES))),
            np.empty(0, np.int8),
            np.empty(0),
            [],
            [],
            spec,
            known,
        )
    return Dataset(
        np.vstack([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[0] for p in parts]),
        [e for p in parts for e in p[3]],
        [i for p in parts for i in p[4]],
        spec,
        known,
    )


_Part = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8], list[str], list[str]]


def _rows(
    entity: str,
    own: dict[str, Grid],
    host: dict[str, Grid],
    known: list[Failure],
    spec: DatasetSpec,
    start: float,
    now: float,
) -> _Part:
    """One entity's rows: times, features, labels, entity names, failures foreseen."""
    mine = [f for f in known if f.entity == entity]
    t = np.arange(math.ceil(start / spec.step) * spec.step, now - spec.horizon + 1e-9, spec.step)
    keep = np.ones(len(t), dtype=bool)
    for f in mine:
        keep &= ~((f.ts <= t) & (t < f.until))
    starts = np.array([f.ts for f in mine])
    frame = Frame(t[keep], own, host, starts, round(spec.window / BIN))
    enough = frame.own_minutes() >= MIN_BINS
    frame = Frame(frame.t[enough], own, host, starts, frame.bins)
    ahead = np.searchsorted(starts, frame.t, side="right")
    foreseen = ahead < len(starts)
    foreseen[foreseen] &= starts[ahead[foreseen]] <= frame.t[foreseen] + spec.horizon
    incident = [mine[a].incident_id if hit else "" for a, hit in zip(ahead, foreseen, strict=True)]
    x = feature_matrix(frame)
    return frame.t, x, foreseen.astype(np.int8), [entity] * len(frame.t), incident
