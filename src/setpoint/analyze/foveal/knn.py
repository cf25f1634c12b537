"""Distance to the nearest normal row, smoothed causally: the foveal tier's default.

A row far from every row seen in normal operation is unusual, whatever the shape of
the normal data; nothing is assumed about linear structure (PCA) or about one cluster
(Mahalanobis). Features are min-max scaled by training (:mod:`.scaling`), the
reference set is a seeded sample of at most ``max_reference`` training rows (memory
and time stay bounded), and the distance is averaged over the last ``window`` rows.

On ASD: F1 0.500 (the README's unsmoothed reference row is 0.43); see
``docs/benchmarks.md``. Both parameters were chosen from round values (window 1, 3, 5,
8, 15) on ASD, so the held-out server data is the honest test.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn.neighbors import NearestNeighbors

from setpoint.analyze.base import FloatArray
from setpoint.analyze.foveal.scaling import MinMax, causal_mean


class NearestNeighbour:
    """Euclidean distance to the nearest reference row, causally averaged.

    >>> rng = np.random.default_rng(0)
    >>> d = NearestNeighbour(NearestNeighbour.Config(window=1))
    >>> d.fit(rng.normal(0.0, 1.0, (500, 3)))
    >>> scores = d.score(np.array([[0.0, 0.0, 0.0], [9.0, 9.0, 9.0]]))
    >>> bool(scores[1] > 10 * scores[0])
    True
    """

    class Config(BaseModel):
        """Smoothing window (rows) and the cap on reference rows kept."""

        model_config = ConfigDict(frozen=True, extra="forbid")
        window: int = Field(5, ge=1)
        max_reference: int = Field(10_000, ge=1)
        seed: int = 0

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self._scaling: MinMax | None = None
        self._index: NearestNeighbors | None = None

    def fit(self, train: FloatArray) -> None:
        """Keep (a sample of) the scaled training rows as the reference."""
        self._scaling = MinMax.fit(train)
        rows = self._scaling.transform(train)
        if rows.shape[0] > self.config.max_reference:
            rng = np.random.default_rng(self.config.seed)
            keep = rng.choice(rows.shape[0], self.config.max_reference, replace=False)
            rows = rows[np.sort(keep)]
        self._index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(rows)

    def score(self, rows: FloatArray) -> FloatArray:
        """Causally averaged distance of each row to its nearest reference row."""
        if self._scaling is None or self._index is None:
            raise RuntimeError("NearestNeighbour.score before fit")
        if rows.shape[0] == 0:
            return np.zeros(0)
        distances, _ = self._index.kneighbors(self._scaling.transform(rows))
        return causal_mean(np.asarray(distances[:, 0], dtype=np.float64), self.config.window)
