"""Scoring of multivariate results on ASD: F1, F1-PA and PA%K-AUC, as its README defines.

Every metric is the best F1 over all thresholds, per entity, then averaged over entities:

- **F1**: point-wise, no point adjustment;
- **F1-PA**: point-adjusted (one detected point marks its whole labelled segment);
- **PA%K-AUC**: the mean over K = 0, 10, ..., 100 of the best F1 when a segment is
  adjusted only if at least K % of its points are detected (Kim et al., AAAI 2022);
  K = 0 needs one detected point (that is PA), K = 100 is the point-wise F1.

Adjustment is folded into the scores: a segment is adjusted at threshold ``t`` exactly
when its k-th largest score reaches ``t`` (k = its points needed), so raising every
point of the segment to at least that score and taking the point-wise best F1 is exact,
in O(n log n) instead of one pass per threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from setpoint.analyze.base import FloatArray

KS = tuple(range(0, 101, 10))
"""The K values (percent) PA%K-AUC averages over."""

Labels = npt.NDArray[np.int_]


def segments(labels: Labels) -> list[tuple[int, int]]:
    """The labelled segments as half-open ``(start, end)`` row ranges.

    >>> segments(np.array([0, 1, 1, 0, 1]))
    [(1, 3), (4, 5)]
    """
    padded = np.concatenate(([0], (labels > 0).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def best_f1(scores: FloatArray, labels: Labels) -> float:
    """The best point-wise F1 over every threshold ``score >= t``; 0 without positives.

    >>> best_f1(np.array([0.1, 0.9, 0.8, 0.2]), np.array([0, 1, 1, 0]))
    1.0
    >>> round(best_f1(np.array([0.9, 0.1, 0.8, 0.2]), np.array([0, 1, 1, 0])), 3)
    0.667
    """
    positives = int((labels > 0).sum())
    if positives == 0:
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    ordered = scores[order]
    tp = np.cumsum(labels[order] > 0)
    # A threshold keeps every tied score, so only the last row of each tie counts.
    last = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    predicted = last + 1
    f1 = 2 * tp[last] / (predicted + positives)
    return float(f1.max())


def adjusted_scores(scores: FloatArray, labels: Labels, k_percent: float) -> FloatArray:
    """Scores under PA%K: each segment's points raised to the score that adjusts it.

    A segment of ``n`` points is adjusted when at least ``max(1, ceil(K n / 100))`` of
    them reach the threshold, that is when its that-many-th largest score does.

    >>> adjusted_scores(np.array([0.1, 0.9, 0.2, 0.3]), np.array([0, 1, 1, 1]), 0).tolist()
    [0.1, 0.9, 0.9, 0.9]
    >>> adjusted_scores(np.array([0.1, 0.9, 0.2, 0.3]), np.array([0, 1, 1, 1]), 50).tolist()
    [0.1, 0.9, 0.3, 0.3]
    """
    out = scores.astype(np.float64, copy=True)
    for start, end in segments(labels):
        seg = out[start:end]
        needed = max(1, math.ceil(k_percent * seg.size / 100 - 1e-9))
        level = np.sort(seg)[::-1][needed - 1]
        np.maximum(seg, level, out=seg)
    return out


@dataclass(frozen=True)
class EntityScore:
    """The three metrics for one entity."""

    f1: float
    f1_pa: float
    pak_auc: float


def score_entity(scores: FloatArray, labels: Labels) -> EntityScore:
    """F1, F1-PA and PA%K-AUC of one entity's scores.

    >>> s = score_entity(np.array([0.5] * 6 + [0.9, 0.1, 0.0]), np.array([0] * 6 + [1] * 3))
    >>> s.f1, s.f1_pa
    (0.5, 1.0)
    """
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    by_k = [best_f1(adjusted_scores(scores, labels, k), labels) for k in KS]
    return EntityScore(best_f1(scores, labels), by_k[0], float(np.mean(by_k)))


def average(scores: list[EntityScore]) -> EntityScore:
    """The mean of each metric over entities."""
    return EntityScore(
        float(np.mean([s.f1 for s in scores])),
        float(np.mean([s.f1_pa for s in scores])),
        float(np.mean([s.pak_auc for s in scores])),
    )
