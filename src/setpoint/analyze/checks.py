"""Conformance checks every registered detector must pass (river's ``checks``).

Each check takes a factory that builds a fresh detector with its default, seeded
configuration, and raises :class:`AssertionError` when the contract of
:mod:`setpoint.analyze.base` is broken. :func:`yield_checks` lists the checks that
apply to a detector, so ``tests/contract/test_detectors.py`` can run every pair.

>>> from setpoint.analyze.rolling_median import RollingMedian
>>> make = lambda: RollingMedian(RollingMedian.Config(window=50, warmup=10))
>>> for check in yield_checks(make()):
...     check(make)
>>> [c.__name__ for c in yield_checks(make())][:2]
['check_score_one_pure', 'check_learn_one_returns_none']
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable, Iterator

import numpy as np

from setpoint.analyze.base import VALUE, BatchScorer, Detector, FloatArray

Factory = Callable[[], Detector]
Check = Callable[[Factory], None]


def labelled_stream(n: int, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    """A noisy daily-ish wave with spikes and dips; returns (values, labels 0/1).

    >>> values, labels = labelled_stream(500)
    >>> values.shape, int(labels.sum())
    ((500,), 5)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 50.0 + 5.0 * np.sin(2 * np.pi * t / 288) + rng.normal(0.0, 1.0, n)
    labels = np.zeros(n)
    hits = rng.choice(np.arange(n // 5, n), size=max(n // 100, 1), replace=False)
    values[hits] += rng.choice([-1.0, 1.0], hits.size) * rng.uniform(10.0, 20.0, hits.size)
    labels[hits] = 1.0
    return values, labels


def _feed(detector: Detector, values: FloatArray) -> list[float]:
    """Score, then learn, each value; return the scores."""
    scores = []
    for v in values:
        x = {VALUE: float(v)}
        scores.append(detector.score_one(x))
        detector.learn_one(x)
    return scores


def _warm(make: Factory, extra: int = 200) -> tuple[Detector, FloatArray]:
    detector = make()
    values, _ = labelled_stream(detector.warmup + extra)
    _feed(detector, values)
    return detector, values


def check_score_one_pure(make: Factory) -> None:
    """``score_one`` changes neither its input nor the detector."""
    detector, _ = _warm(make)
    before_state, before_bytes = detector.get_state(), pickle.dumps(detector)
    for v in (-1e9, 0.0, 50.0, 1e9):
        x = {VALUE: v, "other": 1.0}
        kept = copy.deepcopy(x)
        detector.score_one(x)
        assert x == kept, "score_one mutated its input"
    assert detector.get_state() == before_state, "score_one changed the learned state"
    assert pickle.dumps(detector) == before_bytes, "score_one changed the detector"


def check_learn_one_returns_none(make: Factory) -> None:
    """``learn_one`` returns nothing (river moved from ``self`` to ``None``)."""
    detector = make()
    assert detector.learn_one({VALUE: 1.0}) is None  # type: ignore[func-returns-value]


def check_missing_and_new_features(make: Factory) -> None:
    """Missing, extra and non-finite features neither raise nor poison the baseline."""
    detector, values = _warm(make)
    reference = make()
    _feed(reference, values)
    for x in ({}, {"new": 3.0}, {VALUE: float("nan")}, {VALUE: float("inf")}):
        score = detector.score_one(x)
        assert np.isfinite(score) and score >= 0, f"score {score} for {x}"
        detector.learn_one(x)
    probe = {VALUE: float(values[-1])}
    assert detector.score_one(probe) == reference.score_one(probe)


def check_bounded_memory(make: Factory) -> None:
    """Memory stops growing: the detector's size after 4x the stream stays put."""
    detector = make()
    values, _ = labelled_stream(detector.warmup + 24_000, seed=3)
    quarter = detector.warmup + 6_000
    _feed(detector, values[:quarter])
    early = len(pickle.dumps(detector))
    _feed(detector, values[quarter:])
    late = len(pickle.dumps(detector))
    assert late <= 1.1 * early + 1024, f"grew from {early} to {late} bytes"


def check_state_round_trip(make: Factory) -> None:
    """``get_state`` survives JSON and ``set_state`` restores identical behaviour."""
    detector, _ = _warm(make)
    state = json.loads(json.dumps(detector.get_state()))
    assert isinstance(state.get("version"), int), "state carries no version"
    restored = make()
    restored.set_state(state)
    more, _ = labelled_stream(300, seed=7)
    assert _feed(restored, more) == _feed(detector, more)


def check_deterministic(make: Factory) -> None:
    """Two detectors built alike score one stream alike."""
    values, _ = labelled_stream(make().warmup + 500, seed=11)
    assert _feed(make(), values) == _feed(make(), values)


def check_zero_during_warmup(make: Factory) -> None:
    """Before ``warmup`` observations every score is 0, however wild the input."""
    detector = make()
    values, _ = labelled_stream(detector.warmup)
    for v in values:
        for wild in (-1e6, float(v), 1e6):
            assert detector.score_one({VALUE: wild}) == 0.0
        detector.learn_one({VALUE: float(v)})


def roc_auc(scores: FloatArray, labels: FloatArray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties count half).

    >>> roc_auc(np.array([0.1, 0.9, 0.2]), np.array([0.0, 1.0, 0.0]))
    1.0
    """
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    ranks[order] = np.arange(1, scores.size + 1)
    for value in np.unique(sorted_scores):  # average the ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    positives = labels.sum()
    negatives = labels.size - positives
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def check_beats_chance(make: Factory) -> None:
    """ROC AUC above 0.5 on a labelled synthetic stream, scored prequentially."""
    detector = make()
    values, labels = labelled_stream(detector.warmup + 3_000, seed=5)
    scores = np.array(_feed(detector, values))
    live = np.arange(values.size) >= detector.warmup
    auc = roc_auc(scores[live], labels[live])
    assert auc > 0.5, f"ROC AUC {auc:.3f}"


def check_score_many_matches_score_one(make: Factory) -> None:
    """``score_many`` equals ``score_one`` applied to each value, and changes nothing."""
    detector, _ = _warm(make)
    assert isinstance(detector, BatchScorer)
    probes = np.array([-1e6, 0.0, 45.0, 50.0, 55.0, 1e6, np.nan])
    before = detector.get_state()
    many = detector.score_many(probes)
    one = np.array([detector.score_one({VALUE: float(v)}) for v in probes])
    np.testing.assert_allclose(many, one, rtol=1e-12, atol=0.0)
    assert detector.get_state() == before, "score_many changed the learned state"


def yield_checks(detector: Detector) -> Iterator[Check]:
    """The checks that apply to ``detector``."""
    yield check_score_one_pure
    yield check_learn_one_returns_none
    yield check_missing_and_new_features
    yield check_bounded_memory
    yield check_state_round_trip
    yield check_deterministic
    yield check_zero_during_warmup
    yield check_beats_chance
    if isinstance(detector, BatchScorer):
        yield check_score_many_matches_score_one
