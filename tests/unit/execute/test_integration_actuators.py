"""Every service-integration actuator loads through the ``setpoint.actuators`` entry point
and declares what the gate needs: a frozen Config that rejects unknown keys, a risk, a
blast radius, and a rollback where an inverse exists."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from setpoint.execute.base import Blast, Reversible, Risk
from setpoint.plugins import Registry

EXPECTED = {
    "postgres.cancel_long_queries": (Risk.DISRUPTIVE, False),
    "postgres.terminate_long_queries": (Risk.DISRUPTIVE, False),
    "postgres.terminate_idle_in_transaction": (Risk.DISRUPTIVE, False),
    "postgres.vacuum_analyze": (Risk.SAFE, False),
    "postgres.connection_limit": (Risk.DISRUPTIVE, True),
    "redis.delete_pattern": (Risk.DESTRUCTIVE, False),
    "redis.config_set": (Risk.DISRUPTIVE, True),
    "redis.memory_purge": (Risk.SAFE, False),
    "redis.warm_keys": (Risk.SAFE, True),
    "nginx.upstream_weight": (Risk.DISRUPTIVE, True),
    "nginx.upstream_down": (Risk.DISRUPTIVE, True),
    "docker.restart": (Risk.DISRUPTIVE, False),
    "docker.update": (Risk.DISRUPTIVE, True),
    "k8s.scale": (Risk.DISRUPTIVE, True),
    "k8s.hpa_bounds": (Risk.DISRUPTIVE, True),
    "k8s.rollout_restart": (Risk.DISRUPTIVE, False),
    "k8s.set_resources": (Risk.DISRUPTIVE, True),
    "k8s.cordon": (Risk.DISRUPTIVE, True),
    "k8s.drain": (Risk.DESTRUCTIVE, True),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_declares_risk_blast_config_and_rollback(name: str) -> None:
    cls = Registry[Any]("actuator", "setpoint.actuators").get(name)
    risk, reversible = EXPECTED[name]
    assert cls.risk is risk
    assert isinstance(cls.blast, Blast)
    assert (
        cls.Config.model_config.get("frozen") and cls.Config.model_config.get("extra") == "forbid"
    )
    assert (callable(getattr(cls, "rollback", None))) is reversible
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        cls.Config.model_validate({"no_such_param": 1})
    assert issubclass(cls, Reversible) is reversible
