"""Contracts of the analyze stage (river's streaming contract).

A :class:`Detector` scores an observation before it learns from it (prequential),
``score_one`` changes nothing, ``learn_one`` returns nothing, and points judged
anomalous are not learned, so an ongoing incident does not become the new normal.
That last rule lives in one place, :func:`protected_step`, which every loop uses.

Observations are mappings of feature name to value, as in river. A univariate
detector reads the feature :data:`VALUE`; a missing value scores 0 and is not learned,
other features are ignored. Detectors that serve the peripheral tier also implement
:class:`BatchScorer`: ``score_many(values)`` scores many candidate values of
:data:`VALUE` against the same state, and must equal repeated ``score_one``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

VALUE = "value"
"""The feature a univariate detector reads."""

FloatArray = npt.NDArray[np.float64]


class Detector(Protocol):
    """Streaming anomaly detector for one entity.

    ``score_one`` returns how unusual ``x`` is: higher is more anomalous, 0 means
    ordinary and is what it returns for the first ``warmup`` learned observations.
    The scale is per detector. ``score_one`` must not change state; ``learn_one``
    must not return anything. Memory is bounded by an explicit window or decay.
    """

    warmup: int

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Take ``x`` into the baseline."""
        ...

    def score_one(self, x: Mapping[str, float]) -> float:
        """How unusual ``x`` is against the baseline; pure."""
        ...

    def get_state(self) -> dict[str, Any]:
        """A versioned JSON-serialisable snapshot of what was learned."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""
        ...


@runtime_checkable
class BatchScorer(Protocol):
    """A detector that scores many values of :data:`VALUE` at once (peripheral tier)."""

    def score_many(self, values: FloatArray) -> FloatArray:
        """``[score_one({VALUE: v}) for v in values]``, vectorised; pure."""
        ...


class Filter(Protocol):
    """Turns a score into a decision, kept apart from scoring."""

    def is_anomalous(self, score: float) -> bool:
        """Whether ``score`` is anomalous."""
        ...


class Forecaster(Protocol):
    """Streaming forecaster of one series."""

    def learn_one(self, y: float, x: Mapping[str, float] | None = None) -> None:
        """Take the next observation ``y`` (with optional covariates ``x``)."""
        ...

    def forecast(self, horizon: int) -> list[float]:
        """The next ``horizon`` values."""
        ...


@dataclass(frozen=True)
class Threshold:
    """A score at or above ``threshold`` is anomalous.

    >>> Threshold(3.0).is_anomalous(3.0), Threshold(3.0).is_anomalous(2.9)
    (True, False)
    """

    threshold: float

    def is_anomalous(self, score: float) -> bool:
        """Whether ``score`` reaches the threshold."""
        return score >= self.threshold


def protected_step(
    detector: Detector, judge: Filter, x: Mapping[str, float], learn_anyway: bool = False
) -> tuple[float, bool]:
    """Score ``x``, then learn it unless it was judged anomalous; the one copy of the rule.

    ``learn_anyway`` lets a caller accept a long excursion as the new normal.
    Returns the score and whether it was anomalous (river's
    ``protect_anomaly_detector``).

    >>> from setpoint.analyze.rolling_median import RollingMedian
    >>> d = RollingMedian(RollingMedian.Config(window=10, warmup=5))
    >>> for v in [10, 11, 10, 9, 10]:
    ...     _ = protected_step(d, Threshold(8.0), {VALUE: v})
    >>> score, anomalous = protected_step(d, Threshold(8.0), {VALUE: 50.0})
    >>> anomalous, len(d.get_state()["window"])
    (True, 5)
    """
    score = detector.score_one(x)
    anomalous = judge.is_anomalous(score)
    if not anomalous or learn_anyway:
        detector.learn_one(x)
    return score, anomalous


def value_of(x: Mapping[str, float]) -> float | None:
    """The finite :data:`VALUE` of ``x``, or None when it is missing or not finite.

    >>> value_of({VALUE: 2.0}), value_of({"other": 1.0}), value_of({VALUE: float("nan")})
    (2.0, None, None)
    """
    v = x.get(VALUE)
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None
