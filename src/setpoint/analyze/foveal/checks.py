"""Conformance checks every registered multivariate detector must pass.

The streaming checks of :mod:`setpoint.analyze.checks` feed one value at a time and
do not apply to the batch contract of :mod:`.base`; these are its counterparts. Each
check takes a factory for a fresh detector with its default, seeded configuration.

>>> from setpoint.analyze.foveal.knn import NearestNeighbour
>>> for check in CHECKS:
...     check(NearestNeighbour)
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np

from setpoint.analyze.base import FloatArray
from setpoint.analyze.checks import roc_auc
from setpoint.analyze.foveal.base import MultivariateDetector

Factory = Callable[[], MultivariateDetector]
Check = Callable[[Factory], None]


def labelled_rows(n: int, seed: int = 0) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Four correlated metrics and one constant one; returns (train, test, labels).

    The test half holds segments where the metrics break their correlation.

    >>> train, test, labels = labelled_rows(400)
    >>> train.shape, test.shape, int(labels.sum())
    ((400, 5), (400, 5), 40)
    """
    rng = np.random.default_rng(seed)

    def rows(count: int) -> FloatArray:
        load = rng.uniform(0.0, 1.0, (count, 1))
        noise = rng.normal(0.0, 0.05, (count, 4))
        return np.hstack([load * [1.0, 2.0, 0.5, 3.0] + noise, np.zeros((count, 1))])

    train, test = rows(n), rows(n)
    labels = np.zeros(n)
    for start in range(n // 8, n, n // 4)[:4]:
        test[start : start + n // 40, 1] += 1.5
        labels[start : start + n // 40] = 1.0
    return train, test, labels


def _fitted(make: Factory) -> tuple[MultivariateDetector, FloatArray, FloatArray]:
    train, test, labels = labelled_rows(400)
    detector = make()
    detector.fit(train)
    return detector, test, labels


def check_score_pure(make: Factory) -> None:
    """``score`` changes neither its input nor the detector."""
    detector, test, _ = _fitted(make)
    kept, before = test.copy(), pickle.dumps(detector)
    detector.score(test)
    assert np.array_equal(test, kept), "score mutated its input"
    assert pickle.dumps(detector) == before, "score changed the detector"


def check_one_finite_score_per_row(make: Factory) -> None:
    """One finite score per row, also for an empty block and far-out rows."""
    detector, test, _ = _fitted(make)
    assert detector.score(test).shape == (test.shape[0],)
    assert detector.score(test[:0]).shape == (0,)
    assert np.isfinite(detector.score(test * 1e6)).all()


def check_causal(make: Factory) -> None:
    """A row's score does not depend on the rows after it."""
    detector, test, _ = _fitted(make)
    whole = detector.score(test)
    for end in (1, 7, test.shape[0] // 2):
        np.testing.assert_allclose(detector.score(test[:end]), whole[:end], rtol=1e-9)


def check_deterministic(make: Factory) -> None:
    """Two detectors built and fitted alike score alike."""
    first, test, _ = _fitted(make)
    second, _, _ = _fitted(make)
    np.testing.assert_array_equal(first.score(test), second.score(test))


def check_beats_chance(make: Factory) -> None:
    """ROC AUC well above 0.5 on correlation-breaking segments."""
    detector, test, labels = _fitted(make)
    auc = roc_auc(detector.score(test), labels)
    assert auc > 0.7, f"ROC AUC {auc:.3f}"


CHECKS: tuple[Check, ...] = (
    check_score_pure,
    check_one_finite_score_per_row,
    check_causal,
    check_deterministic,
    check_beats_chance,
)
"""The checks that apply to every multivariate detector."""
