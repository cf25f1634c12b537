"""Rolling median with an inter-quartile scale: a robust, cheap baseline.

The window is kept twice, in arrival order and sorted, so median and quartiles are
read in O(1) and each update costs one bisect insert and one remove. It reads the
feature :data:`~setpoint.analyze.base.VALUE` of each observation.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from setpoint.analyze.base import FloatArray, value_of
from setpoint.errors import KnowledgeError

_IQR_TO_SIGMA = 1.349
_STATE_VERSION = 1


class RollingMedian:
    """Robust z-score: distance from the rolling median in units of IQR/1.349.

    >>> d = RollingMedian(RollingMedian.Config(window=10, warmup=5))
    >>> for x in [10, 11, 10, 9, 10, 11, 10]:
    ...     d.learn_one({"value": x})
    >>> d.score_one({"value": 10.0})
    0.0
    >>> round(d.score_one({"value": 20.0}), 1)
    13.5
    """

    class Config(BaseModel):
        """Parameters of the rolling-median detector."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        window: int = Field(300, ge=5, description="observations kept")
        warmup: int = Field(30, ge=3, description="observations before scoring")
        rel_floor: float = Field(0.01, ge=0, description="scale floor as a share of |median|")
        abs_floor: float = Field(1e-6, gt=0, description="scale floor in the series' unit")

        @model_validator(mode="after")
        def _warms_up_within_the_window(self) -> RollingMedian.Config:
            if self.warmup > self.window:  # it would hold too few points ever to score
                raise ValueError(f"warmup ({self.warmup}) must not exceed window ({self.window})")
            return self

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self.warmup = self.config.warmup
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Take ``x`` into the window, dropping the oldest when full."""
        v = value_of(x)
        if v is not None:
            self._push(v)

    def _push(self, x: float) -> None:
        if len(self._order) == self.config.window:
            old = self._order.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._order.append(x)
        bisect.insort(self._sorted, x)

    def expected(self) -> tuple[float, float]:
        """The baseline as (median, scale); scale is never 0."""
        s, n = self._sorted, len(self._sorted)
        median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
        iqr = s[(3 * n) // 4] - s[n // 4]
        scale = max(iqr / _IQR_TO_SIGMA, self.config.rel_floor * abs(median), self.config.abs_floor)
        return median, scale

    def score_one(self, x: Mapping[str, float]) -> float:
        """Distance of ``x`` from the median in robust standard deviations."""
        v = value_of(x)
        if v is None or len(self._sorted) < self.warmup:
            return 0.0
        median, scale = self.expected()
        return abs(v - median) / scale

    def score_many(self, values: FloatArray) -> FloatArray:
        """:meth:`score_one` of each value of the ``value`` feature, vectorised.

        >>> d = RollingMedian(RollingMedian.Config(window=10, warmup=3))
        >>> for v in [1.0, 2.0, 3.0]:
        ...     d.learn_one({"value": v})
        >>> d.score_many(np.array([2.0, np.nan])).tolist()
        [0.0, 0.0]
        """
        values = np.asarray(values, dtype=np.float64)
        if len(self._sorted) < self.warmup:
            return np.zeros_like(values)
        median, scale = self.expected()
        scores = np.abs(values - median) / scale
        return np.where(np.isfinite(scores), scores, 0.0)

    def get_state(self) -> dict[str, Any]:
        """The window in arrival order, versioned."""
        return {"version": _STATE_VERSION, "window": list(self._order)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a window saved by :meth:`get_state`."""
        if state.get("version") != _STATE_VERSION:
            raise KnowledgeError(f"rolling_median state version {state.get('version')!r}")
        values = [float(v) for v in state["window"]][-self.config.window :]
        self._order = deque(values)
        self._sorted = sorted(values)
