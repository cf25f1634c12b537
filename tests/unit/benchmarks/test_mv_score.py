"""F1, F1-PA and PA%K-AUC on small cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from setpoint.benchmarks.mv_score import (
    EntityScore,
    adjusted_scores,
    average,
    best_f1,
    score_entity,
    segments,
)

# Two segments: rows 2-5 (four rows) and row 8 (one row); six normal rows.
LABELS = np.array([0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0])
SCORES = np.array([0.1, 0.2, 0.9, 0.3, 0.3, 0.1, 0.4, 0.1, 0.2, 0.1, 0.0])


def test_segments_are_half_open_runs_of_ones() -> None:
    assert segments(LABELS) == [(2, 6), (8, 9)]
    assert segments(np.array([1, 1])) == [(0, 2)]
    assert segments(np.zeros(3, dtype=int)) == []


def test_best_f1_point_wise_by_hand() -> None:
    # t=0.9: tp 1, predicted 1 -> 2/(1+5) = 1/3
    # t=0.4: tp 1, predicted 2 -> 2/7
    # t=0.3: tp 3, predicted 4 -> 6/9
    # t=0.2: tp 4, predicted 6 -> 8/11  (the best)
    # t=0.1: tp 5, predicted 10 -> 10/15
    assert best_f1(SCORES, LABELS) == pytest.approx(8 / 11)


def test_point_adjustment_by_hand() -> None:
    # PA: segment 1 rises to 0.9, segment 2 stays 0.2.
    # t=0.9: tp 4, predicted 4 -> 8/9 (the best); t=0.4: tp 4, predicted 5 -> 8/10;
    # t=0.2: tp 5, predicted 7 -> 10/12.
    assert best_f1(adjusted_scores(SCORES, LABELS, 0), LABELS) == pytest.approx(8 / 9)


def test_pa_k_needs_k_percent_of_the_segment() -> None:
    # K=50: segment 1 needs 2 of 4 rows, so it rises to its 2nd largest score, 0.3.
    adjusted = adjusted_scores(SCORES, LABELS, 50)
    assert adjusted[2:6].tolist() == [0.9, 0.3, 0.3, 0.3]
    # t=0.3: tp 4, predicted 5 -> 8/10; t=0.2: tp 5, predicted 7 -> 10/12 (the best).
    assert best_f1(adjusted, LABELS) == pytest.approx(10 / 12)
    # K=100 is the point-wise score; K=0 is PA.
    assert adjusted_scores(SCORES, LABELS, 100).tolist() == SCORES.tolist()
    assert adjusted_scores(SCORES, LABELS, 0)[2:6].tolist() == [0.9] * 4


def test_score_entity_averages_pa_k_over_eleven_ks() -> None:
    expected = np.mean(
        [best_f1(adjusted_scores(SCORES, LABELS, k), LABELS) for k in range(0, 101, 10)]
    )
    result = score_entity(SCORES, LABELS)
    assert (result.f1, result.f1_pa) == pytest.approx((8 / 11, 8 / 9))
    assert result.pak_auc == pytest.approx(expected)


def test_perfect_scores_give_one_and_ties_count_together() -> None:
    assert score_entity(LABELS.astype(float), LABELS) == EntityScore(1.0, 1.0, 1.0)
    # Constant scores flag everything: F1 = 2 * 5 / (11 + 5).
    assert best_f1(np.ones(LABELS.size), LABELS) == pytest.approx(10 / 16)


def test_no_anomalies_scores_zero_and_nan_ranks_last() -> None:
    assert best_f1(np.array([0.3, 0.1]), np.array([0, 0])) == 0.0
    with_nan = SCORES.copy()
    with_nan[0] = np.nan
    assert score_entity(with_nan, LABELS).f1 == pytest.approx(8 / 11)


def test_average_is_the_mean_of_each_metric() -> None:
    mean = average([EntityScore(0.2, 0.4, 0.6), EntityScore(0.4, 0.8, 0.2)])
    assert (mean.f1, mean.f1_pa, mean.pak_auc) == pytest.approx((0.3, 0.6, 0.4))
