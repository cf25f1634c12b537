"""Every registered actuator keeps the contract of execute/base.py.

A typed, frozen ``Config`` that rejects unknown keys; a declared ``risk`` and
``blast``; coroutine ``preview``, ``apply`` and ``verify``; and, where an inverse
exists, a coroutine ``rollback``. Ids are ``<actuator>:<check>``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from setpoint.execute.base import Blast, Risk
from setpoint.plugins import Registry

REGISTRY: Registry[Any] = Registry("actuator", "setpoint.actuators")


def check_config(cls: Any) -> None:
    config = cls.Config
    assert isinstance(config, type) and issubclass(config, BaseModel)
    assert config.model_config.get("frozen") is True, "Config must be frozen"
    assert config.model_config.get("extra") == "forbid", "Config must forbid unknown keys"


def check_risk_and_blast(cls: Any) -> None:
    assert isinstance(cls.risk, Risk), "risk must be a Risk"
    assert isinstance(cls.blast, Blast), "blast must be a Blast"


def check_coroutines(cls: Any) -> None:
    for name in ("preview", "apply", "verify"):
        assert inspect.iscoroutinefunction(getattr(cls, name)), f"{name} must be async"
    rollback = getattr(cls, "rollback", None)
    assert rollback is None or inspect.iscoroutinefunction(rollback), "rollback must be async"


def check_docstring(cls: Any) -> None:
    assert (cls.__doc__ or "").strip(), "say what the actuator does"


CHECKS: list[Callable[[Any], None]] = [
    check_config,
    check_risk_and_blast,
    check_coroutines,
    check_docstring,
]


@pytest.mark.parametrize(
    ("name", "check"),
    [(n, c) for n in REGISTRY.names() for c in CHECKS],
    ids=[f"{n}:{c.__name__}" for n in REGISTRY.names() for c in CHECKS],
)
def test_actuator_contract(name: str, check: Callable[[Any], None]) -> None:
    check(REGISTRY.get(name))
