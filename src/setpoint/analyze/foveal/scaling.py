"""Per-feature scaling fitted on training rows, and causal smoothing of scores.

Min-max scaling by the training range puts every feature on the scale of its own
normal variation, which is what a distance between rows needs. On ASD it beat a robust
median/IQR scaling (nearest-neighbour F1 0.43 against 0.28): many server metrics
barely move in normal operation, so an IQR near zero turns harmless jitter into huge
distances. A feature constant in training keeps its own units (scale 1), because a
metric that never moved and now moves is evidence, not noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpoint.analyze.base import FloatArray


@dataclass(frozen=True)
class MinMax:
    """Map each feature's training range onto [0, 1].

    >>> m = MinMax.fit(np.array([[0.0, 5.0], [10.0, 5.0]]))
    >>> m.transform(np.array([[5.0, 7.0]])).tolist()
    [[0.5, 2.0]]
    """

    low: FloatArray
    scale: FloatArray

    @classmethod
    def fit(cls, train: FloatArray) -> MinMax:
        """The scaling of ``train``'s columns."""
        low, high = train.min(axis=0), train.max(axis=0)
        return cls(low, np.where(high > low, high - low, 1.0))

    def transform(self, rows: FloatArray) -> FloatArray:
        """``rows`` on the training scale."""
        return np.asarray((rows - self.low) / self.scale, dtype=np.float64)


def causal_mean(scores: FloatArray, window: int) -> FloatArray:
    """The mean of each score and the ``window - 1`` before it (fewer at the start).

    Anomalies on servers last for minutes, while single-row excursions are mostly
    noise; averaging over a few rows trades a little delay for far fewer false alarms.

    >>> causal_mean(np.array([0.0, 3.0, 0.0, 3.0]), 2).tolist()
    [0.0, 1.5, 1.5, 1.5]
    """
    if window <= 1 or scores.size == 0:
        return scores.astype(np.float64, copy=True)
    sums = np.concatenate(([0.0], np.cumsum(scores, dtype=np.float64)))
    end = np.arange(1, scores.size + 1)
    start = np.maximum(end - window, 0)
    return np.asarray((sums[end] - sums[start]) / (end - start), dtype=np.float64)
