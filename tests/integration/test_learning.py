"""Remediations that learn, on real processes, through a real ``setpoint run``.

``web`` is SIGSTOPped again and again. The playbook offers two candidates: a SIGHUP,
which cannot wake a stopped process (it stays pending), and a restart, which can.
Each failed SIGHUP is verified as FAILED within 1 s, and the retry chooses again with
the updated posterior. After a few incidents the restart is chosen first almost every
time, and the patterns show why.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tests.integration.harness import RunningAgent, free_port, wait_for

Factory = Callable[..., RunningAgent]

INCIDENTS = 15
LEARNING_PHASE = 5


def learning_config(port: int) -> str:
    return f"""\
version: 1
mode: auto
interval: 1s
services:
  web:
    command: ["{sys.executable}", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
    probe: {{http: "http://127.0.0.1:{port}/", timeout: 1s, interval: 1s, failures: 2}}
playbooks:
  - name: heal-web
    when: {{symptom: service.unhealthy, service: web}}
    choose: learned
    candidates:
      - {{action: service.signal, signal: SIGHUP, verify_timeout: 1s}}
      - {{action: service.restart}}
gate:
  cooldown: 0s
  restart_budget: {{count: 1000, window: 10m}}
  flap: {{after: 1000}}
incidents: {{resolve_after: 0s}}
learning: {{seed: 7, mine_every: 2s}}
"""


def first_choices(decisions: list[dict[str, Any]]) -> list[list[str]]:
    """Per incident (symptom), oldest first: the actions chosen, try after try."""
    tries: dict[str, list[dict[str, Any]]] = {}
    for d in sorted(decisions, key=lambda d: d["timestamp"]):
        if d["playbook"] == "heal-web" and d["verdict"] == "execute":
            tries.setdefault(d["symptom_id"], []).append(d)
    return [[t["action"] for t in ts] for ts in tries.values()]


def cli(agent: RunningAgent, *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "setpoint", *args, "--data-dir", str(agent.data_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


def test_learns_that_a_restart_heals_a_stopped_web_and_a_sighup_does_not(
    agent_factory: Factory,
) -> None:
    agent = agent_factory(learning_config(free_port())).start()
    pid = wait_for(agent.healthy_pid, 10, "web healthy")
    for n in range(INCIDENTS):
        wait_for(lambda: not agent.get("/status")["open_incidents"], 10, "the incident resolved")
        os.kill(pid, signal.SIGSTOP)
        stopped = pid
        pid = wait_for(
            lambda: agent.healthy_pid(other_than=stopped),  # noqa: B023
            20,
            f"incident {n + 1} healed",
        )

    choices = first_choices(agent.decisions(limit=1000))
    print("choices per incident:", choices)
    assert len(choices) == INCIDENTS, choices
    assert all(c[-1] == "service.restart" for c in choices), "only a restart heals"
    later = [c[0] for c in choices[LEARNING_PHASE:]]
    share = later.count("service.restart") / len(later)
    assert share >= 0.9, f"restart chosen first in {share:.0%} of later incidents: {choices}"
    tried = sum(c.count("service.signal") for c in choices)
    assert tried >= 1, "SIGHUP was never tried: that would be luck, not learning"

    def patterns() -> dict[str, dict[str, Any]]:
        return {p["actions"][0]["action"]: p for p in cli(agent, "patterns", "--json")}

    found = wait_for(
        lambda: (p := patterns())["service.restart"]["type"] == "learned" and p,
        10,
        "mining to learn the restart pattern",
    )
    restart, hup = found["service.restart"], found["service.signal"]
    assert restart["successes"] == INCIDENTS and restart["failures"] == 0
    assert restart["confidence"] >= 0.9
    assert hup["successes"] == 0 and hup["failures"] == tried
    assert hup["confidence"] <= 0.34
    assert hup["type"] == "observed"
    assert restart["context"]["signature"] == "service.unhealthy@service:web"

    last = next(
        d
        for d in agent.decisions(limit=1000)
        if d["playbook"] == "heal-web" and d["verdict"] == "execute"
    )
    explained = cli(agent, "explain", last["id"], "--json")
    why = [e["detail"] for e in explained["audit"] if e["event"] == "learned-choice"]
    assert why and why[0]["strategy"] == "thompson"
    assert {c["action"] for c in why[0]["candidates"]} == {"service.signal", "service.restart"}
    assert why[0]["chosen"] == last["action"]
