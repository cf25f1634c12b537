"""Our NAB scorer: the two anchors (never fires = 0, perfect = 100) and hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from setpoint.benchmarks.nab_score import ScoredFile, row_values, scaled_sigmoid, score_corpus

N = 100
WINDOW = (50, 59)  # width 10; rows 0-14 are probationary


def fires_at(*rows: int, value: float = 1.0) -> ScoredFile:
    scores = np.zeros(N)
    scores[list(rows)] = value
    return ScoredFile(scores, [WINDOW])


def standard(*files: ScoredFile) -> float:
    return score_corpus(files)["standard"].normalised


def test_a_detector_that_never_fires_scores_zero() -> None:
    result = score_corpus([fires_at(), fires_at()])
    assert {name: r.normalised for name, r in result.items()} == {
        "standard": 0.0,
        "reward_low_FP_rate": 0.0,
        "reward_low_FN_rate": 0.0,
    }


def test_a_perfect_detector_scores_one_hundred_in_every_profile() -> None:
    result = score_corpus(
        [fires_at(50), ScoredFile(np.r_[np.zeros(200), 0.7, np.zeros(99)], [(200, 239)])]
    )
    assert all(r.normalised == pytest.approx(100.0) for r in result.values())
    assert result["standard"].detected_windows == 2


def test_a_late_detection_is_worth_the_sigmoid_of_its_place() -> None:
    worth = (2 / (1 + math.exp(-2.5)) - 1) / (2 / (1 + math.exp(-5)) - 1)  # y = -0.5
    assert standard(fires_at(55)) == pytest.approx(100 * (worth + 1) / 2)


def test_only_the_earliest_detection_of_a_window_counts() -> None:
    assert standard(fires_at(50, 51, 52, 58)) == pytest.approx(100.0)


def test_a_false_alarm_before_any_window_costs_the_fp_weight() -> None:
    result = score_corpus([fires_at(20, 50)])
    assert result["standard"].raw == pytest.approx(1 - 0.11)
    assert result["standard"].normalised == pytest.approx(100 * (2 - 0.11) / 2)
    assert result["reward_low_FP_rate"].raw == pytest.approx(1 - 0.22)
    assert result["standard"].false_alarms == 1


def test_a_false_alarm_just_after_a_window_costs_less() -> None:
    worth, owner = row_values(N, [WINDOW])
    x = abs(59 - 70) / 9
    assert worth[70] == pytest.approx(2 / (1 + math.exp(5 * x)) - 1)
    assert worth[60] > worth[70] > worth[99] == -1.0
    assert owner[50] == owner[59] == 0 and owner[49] == owner[60] == -1


def test_the_best_threshold_ignores_weaker_false_alarms() -> None:
    """Detections of score 0.5 are all false alarms; the sweep stops above them."""
    scores = np.full(N, 0.5)
    scores[50] = 0.9
    result = score_corpus([ScoredFile(scores, [WINDOW])])["standard"]
    assert result.normalised == pytest.approx(100.0)
    assert result.threshold == 0.9


def test_a_lone_false_alarm_is_worse_than_silence() -> None:
    assert standard(fires_at(30)) == 0.0


def test_probationary_rows_are_ignored() -> None:
    assert standard(fires_at(5, 50)) == pytest.approx(100.0)


def test_the_low_fn_profile_doubles_the_miss() -> None:
    two = [fires_at(50), ScoredFile(np.zeros(N), [WINDOW])]
    result = score_corpus(two)
    assert result["standard"].normalised == pytest.approx(50.0)
    assert result["reward_low_FN_rate"].raw == pytest.approx(1 - 2)


def test_the_sigmoid_is_minus_one_far_behind_a_window() -> None:
    assert scaled_sigmoid(3.01) == -1.0 and scaled_sigmoid(2.99) > -1.0
