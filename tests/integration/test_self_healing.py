"""The whole loop on real processes and real HTTP, through a real ``setpoint run``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from setpoint.knowledge.base import DecisionFilter
from setpoint.knowledge.sqlite import open_sqlite_store
from tests.integration.harness import (
    RunningAgent,
    free_port,
    pid_alive,
    proc_state,
    wait_for,
    web_config,
)

Factory = Callable[..., RunningAgent]


def test_kill_9_of_web_is_healed_with_a_success_decision(agent_factory: Factory) -> None:
    agent = agent_factory(web_config(free_port())).start()
    pid = wait_for(agent.healthy_pid, 10, "web healthy")
    os.kill(pid, signal.SIGKILL)
    new_pid = wait_for(lambda: agent.healthy_pid(other_than=pid), 10, "web healed")
    assert new_pid != pid
    decisions = wait_for(lambda: agent.decisions(outcome="SUCCESS"), 5, "a SUCCESS decision")
    assert decisions[0]["trigger"] == "service.down"
    assert decisions[0]["actions_taken"][0]["action"] == "service.restart"
    assert decisions[0]["gate_mode"] == "auto"
    metrics = httpx.get(f"{agent.url}/metrics", timeout=5).text
    assert 'setpoint_decisions_total{verdict="execute"} 1.0' in metrics
    assert 'setpoint_outcomes_total{outcome="SUCCESS"} 1.0' in metrics


def test_sigstop_of_web_is_detected_and_restarted(agent_factory: Factory) -> None:
    agent = agent_factory(web_config(free_port())).start()
    pid = wait_for(agent.healthy_pid, 10, "web healthy")
    os.kill(pid, signal.SIGSTOP)
    new_pid = wait_for(lambda: agent.healthy_pid(other_than=pid), 10, "web restarted")
    assert new_pid != pid
    assert not pid_alive(pid), "the stopped process must have been terminated"
    decisions = wait_for(lambda: agent.decisions(outcome="SUCCESS"), 5, "a SUCCESS decision")
    assert decisions[0]["trigger"] == "service.unhealthy"


def test_dry_run_records_decisions_and_touches_nothing(agent_factory: Factory) -> None:
    agent = agent_factory(web_config(free_port(), mode="dry-run")).start()
    pid = wait_for(agent.healthy_pid, 10, "web healthy")
    os.kill(pid, signal.SIGSTOP)
    try:
        decisions = wait_for(lambda: agent.decisions(mode="dry-run"), 10, "a dry-run decision")
        assert decisions[0]["trigger"] == "service.unhealthy"
        assert decisions[0]["verdict"] == "dry-run"
        assert decisions[0]["outcome"] is None
        assert "restart web" in decisions[0]["preview"]
        time.sleep(1.5)
        assert proc_state(pid) == "T", "dry-run must leave the stopped process alone"
        assert agent.service()["pid"] == pid
    finally:
        os.kill(pid, signal.SIGCONT)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: len(agent.decisions(mode="dry-run")) >= 2, 10, "second dry-run decision")
    time.sleep(1.5)
    assert agent.service()["pid"] is None, "dry-run must not start the dead service again"
    assert agent.decisions(outcome="SUCCESS") == []


def test_crash_loop_is_stopped_by_the_budget_and_escalated(agent_factory: Factory) -> None:
    config = f"""\
version: 1
mode: auto
interval: 1s
services:
  crasher:
    command: ["{sys.executable}", "-c", "import sys; sys.exit(3)"]
playbooks:
  - name: restart-crasher
    when: {{symptom: service.down, service: crasher}}
    do: [{{action: service.restart}}]
"""
    agent = agent_factory(config).start()

    def escalated() -> list[dict[str, Any]]:
        return [d for d in agent.decisions() if d["verdict"] == "escalate"]

    wait_for(escalated, 30, "an escalation")
    time.sleep(2.0)
    decisions = agent.decisions()
    executed = [d for d in decisions if d["verdict"] == "execute"]
    assert len(executed) == 3, "the default budget is 3 restarts in 10 minutes"
    assert all(d["outcome"] == "FAILED" for d in executed)
    assert "budget exhausted" in escalated()[0]["verdict_reason"]
    assert agent.service("crasher")["starts"] == 4
    incidents = agent.get("/incidents")
    assert incidents[0]["status"] == "escalated"


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        web_config(free_port())
        .replace("timeout: 1s", "timeout: -1s")
        .replace("mode: auto", "mode: yolo")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "setpoint",
            "run",
            "--config",
            str(bad),
            "--data-dir",
            str(tmp_path / "d"),
            "--listen",
            f"127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "mode:" in result.stderr and "observe" in result.stderr
    assert "services.web.probe.timeout" in result.stderr
    assert not (tmp_path / "d").exists(), "a bad config must not create a store"


def test_kill_9_of_setpoint_keeps_every_decision(agent_factory: Factory) -> None:
    port = free_port()
    agent = agent_factory(web_config(port)).start()
    for _ in range(2):
        pid = wait_for(agent.healthy_pid, 10, "web healthy")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: agent.healthy_pid(other_than=pid), 10, "web healed")  # noqa: B023
    before = wait_for(
        lambda: len(agent.decisions(outcome="SUCCESS")) >= 2 and agent.decisions(),
        5,
        "two decisions",
    )
    web_pid = agent.service()["pid"]
    agent.kill()
    wait_for(lambda: not pid_alive(web_pid), 5, "web to die with its parent (PDEATHSIG)")
    store = open_sqlite_store(agent.data_dir / "setpoint.db")
    try:
        kept = {d.id for d in store.decisions.list(DecisionFilter(limit=1000))}
    finally:
        store.close()
    assert {d["id"] for d in before} <= kept

    again = agent_factory(web_config(port), sub="b")
    again.data_dir = agent.data_dir
    again.start()
    wait_for(again.healthy_pid, 10, "web healthy after the restart of setpoint")
    marker = f"http.server {port}"
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    assert len(out.stdout.split()) == 1, "a restarted setpoint must never run two copies"
    assert len(again.decisions()) >= len(before)


def test_sigterm_stops_setpoint_and_its_services_cleanly(agent_factory: Factory) -> None:
    agent = agent_factory(web_config(free_port())).start()
    pid = wait_for(agent.healthy_pid, 10, "web healthy")
    agent.stop()
    assert agent.proc is not None and agent.proc.returncode == 0
    assert not pid_alive(pid), "SIGTERM to setpoint must stop its supervised services"
    assert agent.children() == {}, "nothing is left in the ledger after a clean stop"
    assert "setpoint stopped cleanly" in agent.log.read_text()
