"""Contract of the foveal tier's multivariate detectors.

The peripheral tier scores every series alone, one value at a time
(:class:`setpoint.analyze.base.Detector`). The foveal tier looks at one salient
entity's series together, and only within a time budget, so its detectors work on
matrices: ``fit`` learns normal operation from a block of rows, ``score`` scores a
block of later rows at once. Batching is what makes it affordable: scikit-learn's
IsolationForest spends about 15 ms on one row and 63 ms on 10,000.

``score`` is causal and pure: the score of row ``i`` depends only on what was fitted
and on rows ``0..i`` of the block (so a detector may smooth over recent rows), and
scoring changes nothing. Higher scores mean more anomalous; the scale is per detector.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from setpoint.analyze.base import FloatArray
from setpoint.plugins import Registry

GROUP = "setpoint.mv_detectors"
"""The entry-point group multivariate detectors are registered under."""


class MultivariateDetector(Protocol):
    """A batch anomaly detector over one entity's ``rows x features`` matrix."""

    Config: ClassVar[type[BaseModel]]

    def fit(self, train: FloatArray) -> None:
        """Learn normal operation from ``train`` (rows x features, finite)."""
        ...

    def score(self, rows: FloatArray) -> FloatArray:
        """One score per row, causally (row ``i`` sees rows ``0..i``); pure."""
        ...


def mv_detectors() -> Registry[Any]:
    """The multivariate detector registry as declared by installed entry points."""
    return Registry("multivariate detector", GROUP)
