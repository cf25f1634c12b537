"""Scaling, smoothing and the nearest-neighbour detector on small hand-made data."""

from __future__ import annotations

import numpy as np
import pytest

from setpoint.analyze.foveal.iforest import IsolationForestDetector
from setpoint.analyze.foveal.knn import NearestNeighbour
from setpoint.analyze.foveal.scaling import MinMax, causal_mean


def test_a_feature_constant_in_training_keeps_its_units() -> None:
    scaling = MinMax.fit(np.array([[1.0, 4.0], [3.0, 4.0]]))
    assert scaling.transform(np.array([[2.0, 6.0]])).tolist() == [[0.5, 2.0]]


def test_causal_mean_uses_only_earlier_rows() -> None:
    scores = np.array([4.0, 0.0, 2.0, 6.0])
    assert causal_mean(scores, 3).tolist() == [4.0, 2.0, 2.0, pytest.approx(8 / 3)]
    assert causal_mean(scores, 1).tolist() == scores.tolist()
    assert causal_mean(np.zeros(0), 5).size == 0


def test_nearest_neighbour_distance_is_on_the_training_scale() -> None:
    detector = NearestNeighbour(NearestNeighbour.Config(window=1))
    detector.fit(np.array([[0.0, 0.0], [10.0, 100.0]]))
    # (5, 50) scales to (0.5, 0.5): distance sqrt(0.5) to either corner.
    assert detector.score(np.array([[5.0, 50.0]]))[0] == pytest.approx(np.sqrt(0.5))


def test_the_reference_sample_is_capped_and_seeded() -> None:
    train = np.random.default_rng(1).normal(size=(300, 2))
    config = NearestNeighbour.Config(max_reference=50, seed=3)
    first, second = NearestNeighbour(config), NearestNeighbour(config)
    first.fit(train)
    second.fit(train)
    probe = np.random.default_rng(2).normal(size=(20, 2))
    assert np.array_equal(first.score(probe), second.score(probe))
    assert first.score(train).min() == 0.0  # sampled rows are at distance 0


@pytest.mark.parametrize("cls", [NearestNeighbour, IsolationForestDetector])
def test_scoring_before_fit_is_an_error(cls: type[NearestNeighbour]) -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        cls().score(np.zeros((1, 2)))
