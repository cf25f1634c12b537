"""P(failure within the horizon) for each service now, from the store and a loaded model.

The rows are computed as in training (same window, same features, same failure
record) from the samples the agent has stored. The agent assesses every minute, so
:class:`Recent` reads the whole window once and then only what was stored since:
a few samples per series, not 30 minutes of them. A service with too few recent
readings (stopped, just started) is not assessed.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from setpoint.analyze.failure.dataset import failures
from setpoint.analyze.failure.features import MIN_BINS, Frame, feature_matrix
from setpoint.analyze.failure.model import FailureModel
from setpoint.analyze.failure.series import (
    BIN,
    HOST_SERIES,
    QUERY_LIMIT,
    SERVICE_SERIES,
    Grid,
    History,
)
from setpoint.knowledge.base import KnowledgeStore, SampleRepository
from setpoint.model import HOST

INCIDENTS_READ = 200
"""Newest incidents read per assessment for each service's failure record."""

_Points = tuple[NDArray[np.float64], NDArray[np.float64]]


class Recent:
    """The readings of the failure series over the last ``keep`` seconds, kept up to date.

    Each series is read from just after the newest reading seen of it: the store
    writes batches in time order, so nothing stored later can be older than that.
    """

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self._seen: dict[str, float] = {}
        self._points: dict[tuple[str, str], _Points] = {}

    def update(self, samples: SampleRepository, now: float) -> None:
        """Read what was stored since the last update; forget what is older than ``keep``."""
        cutoff = now - self.keep
        for series in (*SERVICE_SERIES, *HOST_SERIES):
            after = self._seen.get(series)
            since = cutoff if after is None or after < cutoff else after
            fresh: dict[str, tuple[list[float], list[float]]] = {}
            for s in samples.query(key=series, start=since, end=now, limit=QUERY_LIMIT):
                if after is None or s.ts > after:
                    ts, values = fresh.setdefault(s.entity, ([], []))
                    ts.append(s.ts)
                    values.append(s.value)
                    self._seen[series] = max(self._seen.get(series, s.ts), s.ts)
            for entity, (ts, values) in fresh.items():
                old_ts, old = self._points.get((entity, series), (np.empty(0), np.empty(0)))
                self._points[entity, series] = (
                    np.concatenate((old_ts, ts)),
                    np.concatenate((old, values)),
                )
        for key, (times, readings) in list(self._points.items()):
            kept = times >= cutoff - BIN
            if kept.any():
                self._points[key] = (times[kept], readings[kept])
            else:
                del self._points[key]

    def grids(self, start: float, end: float) -> History:
        """Each entity's per-minute grids over [start, end)."""
        origin = math.floor(start / BIN) * BIN
        bins = max(1, math.ceil((end - origin) / BIN))
        out: History = {}
        for (entity, series), (ts, values) in self._points.items():
            grid = Grid.empty(origin, bins)
            grid.add(ts[ts < end], values[ts < end])
            out.setdefault(entity, {})[series] = grid
        return out


@dataclass(frozen=True, slots=True)
class Assessment:
    """One service's risk at ``ts``: the probability and the features that raised it most."""

    entity: str
    ts: float
    probability: float
    top: list[dict[str, Any]]


class Assessor:
    """Assesses services with one model, keeping its window of readings between calls."""

    def __init__(self, model: FailureModel) -> None:
        self.model = model
        self.recent = Recent(model.spec.window)
        self._starts: dict[str, float] = {}

    def assess(
        self,
        store: KnowledgeStore,
        now: float,
        entities: Collection[str] | None = None,
        stale_after: float = math.inf,
    ) -> list[Assessment]:
        """Assess every service with enough readings in the window before ``now``.

        Only ``entities`` when given; a service whose newest reading is older than
        ``stale_after`` seconds is skipped.
        """
        spec = self.model.spec
        self.recent.update(store.samples, now)
        history = self.recent.grids(now - spec.window, now)
        host = history.get(HOST, {})
        record = failures(store, spec.label_kinds, now - spec.history, INCIDENTS_READ, self._starts)
        at = np.array([now])
        names: list[str] = []
        rows: list[NDArray[np.float64]] = []
        for entity, grids in sorted(history.items()):
            if entity == HOST or (entities is not None and entity not in entities):
                continue
            if _newest(grids) < now - stale_after:
                continue
            starts = np.array([f.ts for f in record if f.entity == entity and f.ts <= now])
            frame = Frame(at, grids, host, starts, round(spec.window / BIN))
            if frame.own_minutes()[0] >= MIN_BINS:
                names.append(entity)
                rows.append(feature_matrix(frame)[0])
        if not rows:
            return []
        x = np.vstack(rows)
        return [
            Assessment(entity, now, round(float(p), 4), self.model.top_features(row))
            for entity, p, row in zip(names, self.model.predict(x), x, strict=True)
        ]


def _newest(grids: dict[str, Grid]) -> float:
    """End of the newest minute with a reading in any of ``grids``."""
    ends = [
        g.origin + (np.flatnonzero(g.count)[-1] + 1) * BIN for g in grids.values() if g.count.any()
    ]
    return max(ends, default=-math.inf)
