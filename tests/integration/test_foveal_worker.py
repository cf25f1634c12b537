"""A real ``setpoint run`` on the default configuration runs the foveal tier in a worker
process, shows it in ``/status``, and never leaves it behind, stopped or killed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.harness import RunningAgent, pid_alive, wait_for

Factory = Callable[..., RunningAgent]

CONFIG = "version: 1\ninterval: 1s\n"


def worker(agent: RunningAgent) -> dict[str, Any] | None:
    """The worker's status once it runs and has been sent a tick."""
    foveal: dict[str, Any] | None = agent.get("/status")["foveal"]
    if foveal and foveal["state"] == "running" and foveal["ticks_sent"] > 0:
        return foveal
    return None


def test_the_default_agent_shows_its_worker_and_stops_it(agent_factory: Factory) -> None:
    agent = agent_factory(CONFIG).start()
    foveal = wait_for(lambda: worker(agent), 30, "the foveal worker in /status")
    pid = foveal["pid"]
    assert agent.proc is not None and pid != agent.proc.pid and pid_alive(pid)
    assert foveal["rss_bytes"] > 0 and foveal["restarts"] == 0
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"setpoint.analyze.foveal.worker" in f.read()

    agent.stop()
    assert agent.proc.returncode == 0
    assert not pid_alive(pid)
    log = agent.log.read_text()
    assert "starting it again" not in log and "killing it" not in log, log


def test_a_killed_agent_leaves_no_worker(agent_factory: Factory) -> None:
    agent = agent_factory(CONFIG).start()
    pid = wait_for(lambda: worker(agent), 30, "the foveal worker in /status")["pid"]
    agent.kill()
    wait_for(lambda: not pid_alive(pid), 10, f"worker {pid} to exit after its agent died")
