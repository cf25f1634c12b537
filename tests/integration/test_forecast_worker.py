"""A real ``setpoint run`` with forecasts on keeps them in its worker: statsmodels is
mapped into the worker process, never into the agent."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from setpoint.knowledge.open import open_store
from tests.integration.harness import RunningAgent, wait_for
from tests.unit.analyze.test_forecast_keeper import DAY, fill

pytest.importorskip("statsmodels")

Factory = Callable[..., RunningAgent]

CONFIG = """version: 1
interval: 1s
sensors: {host: false}
forecast:
  enabled: true
  series: [host.load1]
  history: 4d
  idle_load: 1000
"""


def mapped(pid: int, name: str) -> bool:
    """Whether a file of package ``name`` is mapped into ``pid`` (a loaded extension)."""
    with open(f"/proc/{pid}/maps") as f:
        return any(f"/{name}/" in line for line in f)


def forecast(agent: RunningAgent) -> dict[str, Any] | None:
    made: dict[str, Any] = agent.get("/status")["forecasts"]["host"]["host.load1"]
    return made if "model" in made else None


def test_the_agent_shows_forecasts_made_in_its_worker(agent_factory: Factory) -> None:
    agent = agent_factory(CONFIG)
    now = time.time()
    agent.data_dir.mkdir()
    with open_store(None, agent.data_dir) as store:
        fill(store, now - 3 * DAY, now)
    agent.start()
    made = wait_for(lambda: forecast(agent), 60, "a forecast of host.load1 in /status")
    assert made["model"] == "ETS(A,N,A) season 96" and len(made["points"]) == 3
    worker = agent.get("/status")["foveal"]["pid"]
    assert agent.proc is not None and worker not in (None, agent.proc.pid)
    assert mapped(worker, "statsmodels")
    assert not mapped(agent.proc.pid, "statsmodels")
