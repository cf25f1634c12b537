"""Pause, resume and approvals on a real ``setpoint run``, from the real command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tests.integration.harness import RunningAgent, free_port, wait_for, web_config
from tests.unit.execute.webhook_server import webhook_server

Factory = Callable[..., RunningAgent]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "setpoint", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_pause_stops_everything_survives_a_restart_and_resume_heals(
    agent_factory: Factory,
) -> None:
    port = free_port()
    agent = agent_factory(web_config(port)).start()
    pid = wait_for(agent.healthy_pid, 10, "web healthy")

    paused = cli("pause", "--reason", "deploy", "--by", "alice", "--url", agent.url)
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.startswith("paused by alice since ")
    gate = agent.get("/status")["gate"]
    assert (gate["paused"], gate["paused_by"], gate["pause_reason"]) == (True, "alice", "deploy")

    os.kill(pid, signal.SIGKILL)
    refused = wait_for(lambda: agent.decisions(), 10, "a decision while paused")
    assert (refused[0]["verdict"], refused[0]["verdict_reason"]) == (
        "refused",
        "paused by alice: deploy",
    )
    wait_for(lambda: agent.service()["health"] == "down", 5, "web seen down")
    assert agent.service()["pid"] is None, "nothing is restarted while paused"

    agent.stop()
    again = agent_factory(web_config(port), sub="b")
    again.data_dir = agent.data_dir
    again.start()
    assert again.get("/status")["gate"]["paused"] is True, "the pause survives a restart"
    # Starting its supervised services is setpoint's own start-up, not an action.
    pid = wait_for(again.healthy_pid, 10, "web started by the restarted agent")
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: (
            len([d for d in again.decisions() if d["verdict"] == "refused"]) >= 2
            and again.service()["pid"] is None
        ),
        10,
        "a refused decision after the restart",
    )

    resumed = cli("resume", "--by", "alice", "--url", again.url)
    assert resumed.returncode == 0, resumed.stderr
    wait_for(again.healthy_pid, 15, "web healed after resume")
    assert again.get("/status")["gate"]["paused"] is False
    healed = wait_for(lambda: again.decisions(outcome="SUCCESS"), 5, "a SUCCESS decision")
    assert healed[0]["verdict"] == "execute"


def test_pause_without_an_agent_writes_the_file_the_agent_starts_with(
    agent_factory: Factory,
) -> None:
    agent = agent_factory(web_config(free_port()))
    down = f"http://127.0.0.1:{free_port()}"
    paused = cli("pause", "--url", down, "--data-dir", str(agent.data_dir), "--by", "bob")
    assert paused.returncode == 0, paused.stderr
    assert "agent not reachable" in paused.stdout and "paused.json" in paused.stdout

    agent.start()
    assert agent.get("/status")["gate"]["paused_by"] == "bob"


def test_approve_mode_notifies_then_runs_what_a_human_approves(agent_factory: Factory) -> None:
    with webhook_server() as hook:
        extra = f"notify: {{webhook: {hook.url!r}}}\n"
        agent = agent_factory(web_config(free_port(), mode="approve", extra=extra)).start()
        pid = wait_for(agent.healthy_pid, 10, "web healthy")
        os.kill(pid, signal.SIGKILL)

        def pending() -> list[dict[str, Any]]:
            return list(agent.get("/approvals", status="pending"))

        [approval] = wait_for(pending, 10, "a pending approval")
        assert hook.arrived.wait(10), "the webhook was called"
        decision_id = approval["decision_id"]
        assert f"setpoint approve {decision_id}" in hook.bodies[0]["text"]
        assert agent.service()["pid"] is None, "nothing runs before the approval"

        listed = cli("approvals", "--url", agent.url, "--json")
        assert decision_id in listed.stdout
        done = cli("approve", decision_id, "--by", "carol", "--url", agent.url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("approved service.restart on service:web")

        wait_for(agent.healthy_pid, 15, "web restarted after the approval")
        record = wait_for(
            lambda: (
                agent.get(f"/decisions/{decision_id}")["outcome"]
                and agent.get(f"/decisions/{decision_id}")
            ),
            10,
            "the approved decision's outcome",
        )
        assert record["outcome"] == "SUCCESS" and record["verdict"] == "pending-approval"
        again = cli("approve", decision_id, "--url", agent.url)
        assert again.returncode == 1 and "already approved (by carol)" in again.stderr

        explained = cli("explain", decision_id, "--data-dir", str(agent.data_dir))
        assert "Approval" in explained.stdout and "carol" in explained.stdout
