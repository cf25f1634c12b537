"""Every registered multivariate detector passes every check of the foveal contract.

Ids read ``<detector>:<check>``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from setpoint.analyze.foveal.base import MultivariateDetector, mv_detectors
from setpoint.analyze.foveal.checks import CHECKS, Check


def _factory(name: str) -> Callable[[], MultivariateDetector]:
    registry = mv_detectors()
    cls = registry.get(name)

    def make() -> MultivariateDetector:
        detector: MultivariateDetector = cls(registry.config_for(name, {}))
        return detector

    return make


PAIRS = [(name, check) for name in mv_detectors().names() for check in CHECKS]


def test_the_registry_holds_the_built_in_detectors() -> None:
    assert {"knn", "iforest", "seasonal_knn", "lstm_ae"} <= set(mv_detectors().names())


@pytest.mark.parametrize(
    ("name", "check"), PAIRS, ids=[f"{name}:{check.__name__}" for name, check in PAIRS]
)
def test_detector_keeps_the_contract(name: str, check: Check) -> None:
    check(_factory(name))
