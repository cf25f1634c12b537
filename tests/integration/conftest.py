"""Fixtures that start real agents and clean up every process they started."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.harness import RunningAgent, pid_alive


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[Callable[..., RunningAgent]]:
    started: list[RunningAgent] = []
    pids: list[int] = []

    def make(config_text: str, *args: str, sub: str = "a") -> RunningAgent:
        tmp = tmp_path / sub
        tmp.mkdir(exist_ok=True)
        agent = RunningAgent(tmp, config_text, args)
        started.append(agent)
        return agent

    yield make
    for agent in started:
        for entry in agent.children().values():
            pids.append(int(entry["pid"]))
        agent.stop()
    for pid in pids:
        if pid_alive(pid):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
