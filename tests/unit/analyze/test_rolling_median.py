"""The rolling-median detector: warm-up, purity, bounded window, floors and its state."""

from __future__ import annotations

import json

import pydantic
import pytest

from setpoint.analyze.base import VALUE
from setpoint.analyze.rolling_median import RollingMedian
from setpoint.errors import KnowledgeError


def detector(window: int = 20, warmup: int = 5, values: list[float] | None = None) -> RollingMedian:
    d = RollingMedian(RollingMedian.Config(window=window, warmup=warmup))
    for x in values or []:
        d.learn_one({VALUE: x})
    return d


NOISY = [10.0 + (i % 5) * 0.5 for i in range(40)]


def test_scores_zero_until_warm() -> None:
    d = detector(warmup=5)
    for x in [10.0, 11.0, 10.0, 9.0]:
        assert d.score_one({VALUE: 1e6}) == 0.0
        d.learn_one({VALUE: x})
    assert d.score_one({VALUE: 1e6}) == 0.0
    d.learn_one({VALUE: 10.0})
    assert d.score_one({VALUE: 1e6}) > 1000


def test_score_is_a_robust_distance_from_the_median() -> None:
    d = detector(values=NOISY)
    median, scale = d.expected()

    assert median == 11.0
    assert d.score_one({VALUE: median}) == 0.0
    assert d.score_one({VALUE: median + 3 * scale}) == pytest.approx(3.0)
    assert d.score_one({VALUE: median - 3 * scale}) == pytest.approx(3.0)


def test_score_one_changes_nothing() -> None:
    d = detector(values=NOISY)
    before = d.get_state()
    for x in (-1e9, 0.0, 11.0, 1e9):
        d.score_one({VALUE: x})
    assert d.get_state() == before


def test_the_window_is_bounded_and_keeps_the_newest() -> None:
    d = detector(window=20, values=[float(i) for i in range(1000)])

    assert d.get_state()["window"] == [float(i) for i in range(980, 1000)]
    assert d.expected()[0] == 989.5


def test_the_scale_never_reaches_zero() -> None:
    flat = detector(values=[100.0] * 20)
    zero = detector(values=[0.0] * 20)

    assert flat.expected() == (100.0, 1.0), "1% of the median"
    assert zero.expected() == (0.0, 1e-6), "the absolute floor"
    assert flat.score_one({VALUE: 100.5}) == pytest.approx(0.5)


def test_state_round_trips_through_json() -> None:
    d = detector(values=NOISY)
    state = json.loads(json.dumps(d.get_state()))

    restored = detector()
    restored.set_state(state)

    assert restored.get_state() == d.get_state()
    assert restored.expected() == d.expected()
    for x in (5.0, 11.0, 12.5, 40.0):
        assert restored.score_one({VALUE: x}) == d.score_one({VALUE: x})
    d.learn_one({VALUE: 99.0})
    restored.learn_one({VALUE: 99.0})
    assert restored.get_state() == d.get_state(), "the arrival order was kept"


def test_set_state_keeps_only_the_newest_window() -> None:
    d = detector(window=10)
    d.set_state({"version": 1, "window": [float(i) for i in range(25)]})
    assert d.get_state()["window"] == [float(i) for i in range(15, 25)]


@pytest.mark.parametrize("state", [{"version": 2, "window": []}, {"window": [1.0]}])
def test_set_state_refuses_another_version(state: dict[str, object]) -> None:
    d = detector(values=NOISY)
    before = d.get_state()

    with pytest.raises(KnowledgeError, match="rolling_median state version"):
        d.set_state(state)
    assert d.get_state() == before


def test_config_is_validated() -> None:
    with pytest.raises(pydantic.ValidationError):
        RollingMedian.Config(window=4)
    with pytest.raises(pydantic.ValidationError):
        RollingMedian.Config.model_validate({"window": 100, "typo": 1})


def test_a_warmup_longer_than_the_window_is_refused() -> None:
    """Such a detector would hold at most ``window`` points and never score at all."""
    with pytest.raises(pydantic.ValidationError, match="warmup"):
        RollingMedian.Config(window=10)  # the default warmup is 30
    assert RollingMedian.Config(window=10, warmup=10).warmup == 10
