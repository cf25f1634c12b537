"""An IsolationForest over one entity's series, grown a few trees at a time.

Growing a tree costs about 1 ms of CPU here, so a 50-tree forest does not fit in one
tick's budget; scikit-learn's ``warm_start`` adds ``trees_per_step`` trees per call, and
the tier checks its clock between calls. The rows are split in time: the oldest are
fitted on, the next ``calibrate`` rows are held out and set the threshold
(``margin`` times their highest score), and the newest ``recent`` rows, where the
trouble that made the entity salient lives, are never fitted on. Scores are the
negated ``score_samples`` (higher is more anomalous, about 0.4 to 0.6 for ordinary
rows), averaged causally over ``window`` rows and scored in one batch: one row costs
about as much as thirty. The tier fires when the newest ``window`` scores all pass the
threshold and clears when they all stay under it; with the default margin of 1.03,
ordinary rows fire on about one look in 4,000 to 6,000 (``bench/foveal.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from setpoint.analyze.base import FloatArray
from setpoint.analyze.foveal.scaling import causal_mean
from setpoint.config.foveal import ForestConfig

MODEL = "sklearn.IsolationForest"
"""What the evidence names as the model."""


class EntityForest:
    """A forest fitted on one entity's ``rows x series``, usable once :attr:`ready`.

    >>> rng = np.random.default_rng(0)
    >>> load = rng.uniform(0.0, 1.0, 300)
    >>> rows = np.c_[load, 2.0 * load + rng.normal(0.0, 0.02, 300)]
    >>> f = EntityForest(ForestConfig(trees=20), ("req", "cpu"), rows, 0.0)
    >>> while not f.ready:
    ...     f.step()
    >>> broken = np.array([[0.9, 0.2]] * 5)
    >>> bool(f.score(rows[-5:])[-1] < f.threshold < f.score(broken)[-1])
    True
    """

    def __init__(
        self, config: ForestConfig, keys: tuple[str, ...], rows: FloatArray, fitted_at: float
    ) -> None:
        self.config = config
        self.keys = keys
        self.fitted_at = fitted_at
        held = config.calibrate + config.recent
        self._train = rows[:-held]
        self._held = rows[-held : -config.recent]
        self._median = np.median(self._train, axis=0)
        self._low, self._high = np.quantile(self._train, [0.01, 0.99], axis=0)
        self._forest = IsolationForest(
            n_estimators=0,
            max_samples=min(config.max_samples, self._train.shape[0]),
            random_state=config.seed,
            warm_start=True,
            n_jobs=1,
        )
        self.threshold = float("inf")
        self.ready = False

    def step(self) -> None:
        """Grow ``trees_per_step`` more trees, or, once all are grown, set the threshold."""
        if self.ready:
            return
        grown = self._forest.n_estimators
        if grown < self.config.trees:
            more = min(grown + self.config.trees_per_step, self.config.trees)
            self._forest.set_params(n_estimators=more).fit(self._train)
            return
        self.threshold = self.config.margin * float(self.score(self._held).max())
        self._train = self._held = self._held[:0]
        self.ready = True

    def _raw(self, rows: FloatArray) -> FloatArray:
        return -np.asarray(self._forest.score_samples(rows), dtype=np.float64)

    def score(self, rows: FloatArray) -> FloatArray:
        """The causally averaged score of each of ``rows`` (consecutive, oldest first)."""
        return causal_mean(self._raw(rows), self.config.window)

    def evidence(self, row: FloatArray, score: float) -> dict[str, Any]:
        """Why ``row`` is anomalous: the series whose usual value lowers its score most.

        Each series in turn is put back at its training median, all in one batch; the
        series whose return helps most is named first.
        """
        trials = np.repeat(row[None, :], row.size, axis=0)
        np.fill_diagonal(trials, self._median)
        relief = self._raw(row[None, :])[0] - self._raw(trials)
        order = np.argsort(-relief, kind="stable")[:3]

        def about(j: int) -> dict[str, Any]:
            return {
                "series": self.keys[j],
                "value": _round(row[j]),
                "expected": _round(self._median[j]),
                "expected_range": [_round(self._low[j]), _round(self._high[j])],
            }

        top = about(int(order[0]))
        reason = f"{len(self.keys)} series together unlike their past; most: {top['series']}"
        return {
            **top,
            "score": round(score, 4),
            "threshold": round(self.threshold, 4),
            "model": MODEL,
            "contributors": [about(int(j)) for j in order],
            "series_count": len(self.keys),
            "reason": reason,
        }


def _round(x: float) -> float:
    """Six significant digits: evidence is read by people."""
    return float(f"{x:.6g}")
