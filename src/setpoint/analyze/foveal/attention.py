"""The foveal attention tier: a deep look at salient entities, within a budget per tick.

Every tick it keeps the samples (:mod:`.history`, one column write), and when nothing
is salient that is all it does. An entity is due for a look when its salience (from
the peripheral tier) reaches ``salience``, or while one of its foveal symptoms fires
(so that it can clear), at most once per ``revisit`` seconds; an entity whose forest is
still growing is due every tick. Due entities are taken least recently looked at first
(then the most salient), at most ``max_entities`` per tick, and the clock is checked
before each one and between forest steps: once ``budget`` is spent the rest wait for
the next tick, first in line. A tick therefore spends at most the budget plus one unit
of work (one entity's change points, or ten trees).

A look runs change points on each series that has a rule (:mod:`.changepoint`,
symptom ``degradation``) and an IsolationForest over the entity's series together
(:mod:`.forest`, symptom ``anomaly.multivariate``). Like the peripheral tier, one
excursion is one symptom: it fires once and clears later.

scikit-learn and ruptures are imported when an entity is first due, not before, and on
a thread: the import takes about 1.6 s of CPU, which the tick must not wait for. Looks
start once it is done; without the ``ml`` extra the tier logs once and stays off.

The agent runs this tier in a worker process (:mod:`.worker`); a worker that replaces
one that died takes over the symptoms its predecessor left firing (:meth:`Foveal.adopt`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from setpoint.analyze.foveal.history import Block, History
from setpoint.config.foveal import FovealConfig
from setpoint.model import Sample, Severity, Symptom, SymptomState

if TYPE_CHECKING:
    from setpoint.analyze.foveal.changepoint import ChangePoints, Degradation
    from setpoint.analyze.foveal.forest import EntityForest

log = logging.getLogger(__name__)

DEGRADATION = "degradation"
"""Symptom kind of a sustained change for the worse in one series."""
MULTIVARIATE = "anomaly.multivariate"
"""Symptom kind of an entity whose series together look unlike their recent past."""


class Foveal:
    """Looks closely at the most salient entities; returns symptoms that start or end.

    ``clock`` is the monotonic clock the budget is measured on.

    >>> from setpoint.config.foveal import ChangePointConfig
    >>> f = Foveal(FovealConfig(enabled=True, changepoint=ChangePointConfig(sustain=30)))
    >>> f.load()
    True
    >>> out = []
    >>> for t in range(200):
    ...     ms = 100.0 + t % 3 + (60.0 if t >= 120 else 0.0)
    ...     tick = [Sample("web.latency", ms, float(t), entity="service:web")]
    ...     out += f.observe(tick, {"service:web": 1.0 if t >= 120 else 0.0})
    >>> [(s.kind, s.evidence["changed_at"]) for s in out]
    [('degradation', 120.0)]
    """

    def __init__(
        self, config: FovealConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = c = config or FovealConfig()
        self._clock = clock
        self._history = History(c.history)
        self._changepoints: ChangePoints | None = None
        self._forest_type: type[EntityForest] | None = None
        self._off = not c.enabled
        self._loader: threading.Thread | None = None
        self._looked: dict[str, float] = {}
        self._forests: dict[str, EntityForest] = {}
        self._degraded: dict[tuple[str, str], tuple[Symptom, Degradation]] = {}
        self._adopted: dict[tuple[str, str], Symptom] = {}
        self._anomalous: dict[str, Symptom] = {}
        self.looks = 0
        self.deferred = 0

    @property
    def off(self) -> bool:
        """True when the tier does nothing: disabled, or its libraries failed to import."""
        return self._off

    @property
    def loaded(self) -> bool:
        """True once scikit-learn and ruptures are imported."""
        return self._changepoints is not None

    def adopt(self, symptoms: Iterable[Symptom]) -> None:
        """Go on judging firing symptoms an earlier tier raised, so that they clear in time.

        The history starts empty. A degradation clears once ``clear_after`` ticks are
        kept and their median is back near the old level its evidence names (at once if
        its series has not reported by then); an anomaly clears once a forest fitted on
        the new history no longer finds the newest rows anomalous.
        """
        for symptom in symptoms:
            if symptom.state is not SymptomState.FIRING:
                continue
            if symptom.kind == MULTIVARIATE:
                self._anomalous[symptom.entity] = symptom
            elif symptom.kind == DEGRADATION:
                self._adopted[(symptom.entity, str(symptom.evidence["series"]))] = symptom

    def looked(self) -> dict[str, float]:
        """When each entity was last looked at (sample time of that tick)."""
        return dict(self._looked)

    def observe(self, samples: Sequence[Sample], salience: Mapping[str, float]) -> list[Symptom]:
        """Keep one tick of samples; look at the due entities while the budget lasts."""
        if self._off or not samples:
            return []
        now = max(s.ts for s in samples)
        self._history.append(samples, now)
        due = self._due(salience, now)
        if not due or not self._loaded():
            return []
        deadline = self._clock() + self.config.budget
        out: list[Symptom] = []
        for i, entity in enumerate(due):
            if i and self._clock() >= deadline:
                self.deferred += len(due) - i
                break
            self._looked[entity] = now
            self.looks += 1
            out += self._look(entity, now, deadline)
        return out

    def _due(self, salience: Mapping[str, float], now: float) -> list[str]:
        """Entities to look at this tick, in the order they get the budget."""
        floor = self.config.salience
        wanted = {e for e, s in salience.items() if s >= floor}
        growing = {e for e, f in self._forests.items() if not f.ready}
        wanted |= growing | self._anomalous.keys() | {e for e, _ in self._degraded}
        wanted |= {e for e, _ in self._adopted}
        if not wanted:
            return []
        never, revisit = -math.inf, self.config.revisit
        looked = self._looked
        due = [e for e in wanted if e in growing or now - looked.get(e, never) >= revisit]
        due.sort(key=lambda e: (looked.get(e, never), -salience.get(e, 0.0), e))
        return due[: self.config.max_entities]

    def load(self) -> bool:
        """Import the analysis now; False, logged once, without the ``ml`` extra."""
        if self._changepoints is None and not self._off:
            try:
                from setpoint.analyze.foveal.changepoint import ChangePoints
                from setpoint.analyze.foveal.forest import EntityForest
            except ImportError as exc:
                log.warning("foveal attention is off: %s (install setpoint[ml])", exc)
                self._off = True
                return False
            self._forest_type = EntityForest
            self._changepoints = ChangePoints(self.config.changepoint)
        return self._changepoints is not None

    def _loaded(self) -> bool:
        """True once the analysis is imported; until then, import it on a thread."""
        if self._changepoints is not None:
            return True
        if self._loader is None:
            self._loader = threading.Thread(target=self.load, name="foveal-import", daemon=True)
            self._loader.start()
        return False

    def _look(self, entity: str, now: float, deadline: float) -> list[Symptom]:
        block = self._history.block(entity)
        out = self._changes(entity, block, now) if self.config.changepoint.enabled else []
        if self.config.forest.enabled:
            out += self._multivariate(entity, block, now, deadline)
        return out

    def _changes(self, entity: str, block: Block, now: float) -> list[Symptom]:
        """Clear recovered degradations, find new ones, series by series."""
        cp = self._changepoints
        if cp is None:
            return []
        out = self._take_over(entity, block, now, cp.config.clear_after)
        for j, (key, name) in enumerate(zip(block.keys, block.names, strict=True)):
            values = block.values[:, j]
            firing = self._degraded.get((entity, key))
            if firing is not None:
                symptom, degradation = firing
                if cp.recovered(degradation, block.ts, values):
                    del self._degraded[(entity, key)]
                    recent = values[-cp.config.clear_after :]
                    level = float(np.nanmedian(recent)) if np.isfinite(recent).any() else None
                    out.append(symptom.cleared(now, {"series": key, "value": level}))
                continue
            worse = cp.config.worse(name)
            found = cp.detect(key, block.ts, values, worse) if worse else None
            if found is not None:
                critical = found.relative >= 5 * cp.config.threshold
                symptom = Symptom(
                    kind=DEGRADATION,
                    entity=entity,
                    ts=now,
                    severity=Severity.CRITICAL if critical else Severity.WARNING,
                    evidence=found.evidence(cp.config.threshold),
                )
                self._degraded[(entity, key)] = (symptom, found)
                out.append(symptom)
        return out

    def _take_over(self, entity: str, block: Block, now: float, clear_after: int) -> list[Symptom]:
        """Adopted degradations of ``entity`` become firing ones, once they can be judged.

        That is once ``clear_after`` ticks are kept; one whose series has not reported
        by then clears.
        """
        if self._history.ticks < clear_after:
            return []
        out = []
        for ident in [i for i in self._adopted if i[0] == entity]:
            symptom = self._adopted.pop(ident)
            if ident[1] in block.keys:
                self._degraded[ident] = (symptom, _degradation(symptom))
            else:
                out.append(symptom.cleared(now, {"series": ident[1], "value": None}))
        return out

    def _multivariate(
        self, entity: str, block: Block, now: float, deadline: float
    ) -> list[Symptom]:
        """Fit (in steps, within the deadline), score the newest rows, fire or clear."""
        c = self.config.forest
        forest = self._forests.get(entity)
        firing = self._anomalous.get(entity)
        stale = forest is not None and forest.ready and now - forest.fitted_at >= c.refit_every
        if forest is None or (stale and firing is None):
            forest = self._fit(entity, block, now)
            if forest is None:
                return []
        if not forest.ready:
            forest.step()  # at least one step per look, or slow ticks would starve the fit
            while not forest.ready:
                if self._clock() >= deadline:
                    return []
                forest.step()
        columns = [block.keys.index(k) for k in forest.keys]
        rows = block.values[-c.recent :, columns]
        rows = rows[np.isfinite(rows).all(axis=1)]
        if rows.shape[0] < c.window:
            return []
        newest = forest.score(rows)[-c.window :]
        if firing is not None:
            if newest.max() > forest.threshold:
                return []
            del self._anomalous[entity]
            score, threshold = round(float(newest[-1]), 4), round(forest.threshold, 4)
            evidence = {"score": score, "threshold": threshold}
            return [firing.cleared(now, evidence)]
        if newest.min() <= forest.threshold:
            return []
        symptom = Symptom(
            kind=MULTIVARIATE,
            entity=entity,
            ts=now,
            evidence=forest.evidence(rows[-1], float(newest[-1])),
        )
        self._anomalous[entity] = symptom
        return [symptom]

    def _fit(self, entity: str, block: Block, now: float) -> EntityForest | None:
        """A new forest on the series that reported through the newest rows, if enough."""
        c = self.config.forest
        if self._forest_type is None:
            return None
        present = np.isfinite(block.values[-c.recent :]).all(axis=0)
        columns = np.flatnonzero(present)
        if columns.size < 2:
            return None
        rows = block.values[:, columns]
        rows = rows[np.isfinite(rows).all(axis=1)]
        if rows.shape[0] < c.min_rows + c.calibrate + c.recent:
            return None
        keys = tuple(block.keys[j] for j in columns)
        forest = self._forest_type(c, keys, rows, now)
        self._forests[entity] = forest
        return forest


def _degradation(symptom: Symptom) -> Degradation:
    """The degradation a ``degradation`` symptom's evidence describes (levels rounded)."""
    from setpoint.analyze.foveal.changepoint import Degradation

    ev = symptom.evidence
    before, after, relative = float(ev["before"]), float(ev["after"]), float(ev["relative_change"])
    scale = abs(after - before) / relative
    return Degradation(
        str(ev["series"]), ev["worse"], float(ev["changed_at"]), before, after, scale, relative, 0.0
    )
