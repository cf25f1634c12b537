"""Every registered detector passes every conformance check of its kind.

Ids read ``<detector>:<check>``, so ``pytest -k rolling_median:check_score_one_pure``
selects one pair.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from setpoint.analyze.base import Detector
from setpoint.analyze.checks import Check, yield_checks
from setpoint.config.loader import default_detectors


def _factory(name: str) -> Callable[[], Detector]:
    registry = default_detectors()
    cls = registry.get(name)

    def make() -> Detector:
        detector: Detector = cls(registry.config_for(name, {}))
        return detector

    return make


def _pairs() -> list[tuple[str, Check]]:
    names = default_detectors().names()
    return [(name, check) for name in names for check in yield_checks(_factory(name)())]


PAIRS = _pairs()


def test_the_registry_is_not_empty() -> None:
    assert "rolling_median" in {name for name, _ in PAIRS}


@pytest.mark.parametrize(
    ("name", "check"), PAIRS, ids=[f"{name}:{check.__name__}" for name, check in PAIRS]
)
def test_detector_keeps_the_contract(name: str, check: Check) -> None:
    check(_factory(name))
