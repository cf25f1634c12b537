"""OOM benchmark: real leaking processes under a real memory cgroup limit, and healthy ones.

Each run creates its own cgroup-v1 memory sub-cgroups (``/sys/fs/cgroup/memory/
setpoint-bench-<pid>-<n>``, ``memory.limit_in_bytes`` 512 MiB to 1 GiB, all well under
free memory), starts a real ``setpoint run`` whose services are this script's workers
(each worker moves itself into its cgroup first and exits by itself after
``--max-seconds``), and removes every cgroup at the end. Three phases:

1. lead: ``--rounds`` rounds of 4 cgroups at once, each a leaker beside a bigger innocent
   steady process, mode dry-run with a playbook restarting the leaker on
   ``memory.oom_predicted``. The kernel's OOM kill (the cgroup's ``oom_kill`` count) is
   timed; lead = kill time - time of the dry-run decision. Which process the kernel
   killed, and which the decision targets, are both recorded.
2. act: mode auto, one leaker beside a bigger innocent process for ``--act-seconds``:
   setpoint must restart the leaker before any kill and never touch the innocent one.
3. healthy: steady high usage, two GC-like sawtooths, allocate-hold-free bursts and a
   5 s CPU burst, each in its own cgroup, for ``--healthy-seconds``: every prediction is
   a false alarm.

    .venv/bin/python -m bench.oom [--rounds 5] [--act-seconds 90] [--healthy-seconds 300]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.oom_agent import Agent, cgroup_oom_kills, make_cgroup, remove_cgroup, worker

MIB = 2**20
PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Slot:
    """One cgroup: a leaker (or healthy worker) and maybe an innocent neighbour."""

    name: str
    limit_mib: int
    workload: list[str]
    innocent_mib: int = 0


def _service(name: str, cgroup: Path, argv: list[str], max_s: float) -> str:
    cmd = [PY, "-m", "bench.oom", "worker", "--cgroup", str(cgroup), "--max-seconds", str(max_s)]
    return f"  {name}:\n    command: {json.dumps([*cmd, *argv])}\n    cwd: {ROOT}\n"


CRASH = ""
"""Extra ``crash:`` settings for every agent (``--crash``)."""


def _config(mode: str, services: str, playbooks: str) -> str:
    return (
        f"version: 1\nmode: {mode}\ninterval: 1s\n{CRASH}"
        f"services:\n{services}playbooks:\n{playbooks}"
    )


def _playbook(service: str) -> str:
    return (
        f"  - name: restart-{service}\n"
        f"    when: {{symptom: memory.oom_predicted, service: {service}}}\n"
        f"    do: [{{action: service.restart}}]\n"
    )


@contextlib.contextmanager
def cgroups(slots: list[Slot], tag: str) -> Iterator[dict[str, Path]]:
    made: dict[str, Path] = {}
    try:
        for slot in slots:
            made[slot.name] = make_cgroup(
                f"setpoint-bench-{os.getpid()}-{tag}-{slot.name}", slot.limit_mib
            )
        yield made
    finally:
        for path in made.values():
            remove_cgroup(path)


def _predictions(data_dir: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{data_dir / 'setpoint.db'}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT ts, entity, evidence FROM symptoms WHERE kind = 'memory.oom_predicted'"
        " AND state = 'firing' ORDER BY ts"
    ).fetchall()
    db.close()
    return [{"ts": ts, "entity": e, **json.loads(ev)} for ts, e, ev in rows]


LEAKS = [  # (limit MiB, innocent MiB, leak MiB/s): kernel kill 45-90 s after the leak starts
    (1024, 128, 20.0),
    (512, 256, 3.0),
    (768, 400, 6.0),
    (1024, 512, 10.0),
]


def lead_round(n: int, tmp: Path) -> list[dict[str, Any]]:
    slots = [Slot(f"leak{i}", lim, [], inn) for i, (lim, inn, _) in enumerate(LEAKS)]
    with cgroups(slots, f"r{n}") as cg:
        services, playbooks = "", ""
        for i, (_, inn, rate) in enumerate(LEAKS):
            leak = ["--mode", "leak", "--base", "16", "--flat", "5", "--rate", str(rate)]
            services += _service(f"leaky{i}", cg[f"leak{i}"], leak, 150)
            services += _service(
                f"big{i}", cg[f"leak{i}"], ["--mode", "steady", "--base", str(inn)], 150
            )
            playbooks += _playbook(f"leaky{i}")
        agent = Agent(tmp / f"round{n}", _config("dry-run", services, playbooks)).start()
        try:
            pids = {
                name: agent.wait_pid(name)
                for i in range(len(LEAKS))
                for name in (f"leaky{i}", f"big{i}")
            }
            started = time.time()
            kills: dict[int, float] = {}
            killed: dict[int, list[str]] = {}
            while len(killed) < len(LEAKS) and time.time() - started < 140:
                for i in range(len(LEAKS)):
                    if i not in kills and cgroup_oom_kills(cg[f"leak{i}"]) > 0:
                        kills[i] = time.time()
                    elif i in kills and i not in killed and time.time() - kills[i] > 0.5:
                        gone = [n for n in (f"leaky{i}", f"big{i}") if not _alive(pids[n])]
                        killed[i] = gone
                time.sleep(0.05)
            time.sleep(2)
            decisions = agent.decisions()
        finally:
            agent.stop()
        preds = _predictions(agent.data_dir)
    out = []
    for i, (lim, inn, rate) in enumerate(LEAKS):
        mine = [d for d in decisions if d["entity"] in (f"service:leaky{i}", f"service:big{i}")]
        first = min(mine, key=lambda d: d["timestamp"], default=None)
        pred = next(
            (p for p in preds if p["entity"] in (f"service:leaky{i}", f"service:big{i}")), None
        )
        kill = kills.get(i)
        out.append(
            {
                "limit_mib": lim,
                "innocent_mib": inn,
                "rate_mib_s": rate,
                "kill_after_start_s": None if kill is None else round(kill - started, 1),
                "kernel_killed": killed.get(i, []),
                "decision_target": None if first is None else first["target"],
                "lead_s": None
                if first is None or kill is None
                else round(kill - first["timestamp"], 1),
                "eta_at_alarm_s": None if pred is None else pred.get("eta_s"),
                "confidence": None if pred is None else pred.get("confidence"),
            }
        )
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def act_phase(seconds: float, tmp: Path) -> dict[str, Any]:
    slots = [Slot("act", 512, [], 300)]
    with cgroups(slots, "act") as cg:
        leak = ["--mode", "leak", "--base", "16", "--flat", "5", "--rate", "4"]
        services = _service("leaky", cg["act"], leak, seconds + 30)
        services += _service("big", cg["act"], ["--mode", "steady", "--base", "300"], seconds + 30)
        agent = Agent(tmp / "act", _config("auto", services, _playbook("leaky"))).start()
        try:
            big = agent.wait_pid("big")
            first_leaky = agent.wait_pid("leaky")
            time.sleep(seconds)
            decisions = agent.decisions()
            big_after = agent.service("big")["pid"]
        finally:
            agent.stop()
        kills = cgroup_oom_kills(cg["act"])
    return {
        "seconds": seconds,
        "restarts_of_leaky": sum(
            1 for d in decisions if d["target"] == "service:leaky" and d["outcome"] == "SUCCESS"
        ),
        "decisions_on_big": sum(1 for d in decisions if d["target"] == "service:big"),
        "big_pid_unchanged": big == big_after,
        "first_leaky_pid": first_leaky,
        "oom_kills_in_cgroup": kills,
    }


HEALTHY = [
    ("steady", 512, ["--mode", "steady", "--base", "440"]),
    ("saw_fast", 512, ["--mode", "sawtooth", "--base", "150", "--high", "260", "--period", "12"]),
    ("saw_slow", 512, ["--mode", "sawtooth", "--base", "160", "--high", "240", "--period", "30"]),
    (
        "burst",
        512,
        ["--mode", "burst", "--base", "120", "--high", "320", "--period", "30", "--hold", "12"],
    ),
    ("cpu", 512, ["--mode", "cpu", "--base", "64", "--period", "60"]),
]


def healthy_phase(seconds: float, tmp: Path) -> dict[str, Any]:
    slots = [Slot(name, lim, argv) for name, lim, argv in HEALTHY]
    with cgroups(slots, "ok") as cg:
        services = "".join(_service(n, cg[n], argv, seconds + 30) for n, _, argv in HEALTHY)
        playbooks = "".join(_playbook(n) for n, _, _ in HEALTHY)
        agent = Agent(tmp / "healthy", _config("dry-run", services, playbooks)).start()
        try:
            for name, _, _ in HEALTHY:
                agent.wait_pid(name)
            cpu0 = agent.cpu_seconds()
            time.sleep(seconds)
            cpu = agent.cpu_seconds() - cpu0
            decisions = agent.decisions()
        finally:
            agent.stop()
        symptoms = agent.symptom_kinds()
        kills = {n: cgroup_oom_kills(cg[n]) for n, _, _ in HEALTHY}
    alarms = {n: sum(1 for d in decisions if d["entity"] == f"service:{n}") for n, _, _ in HEALTHY}
    return {
        "seconds": seconds,
        "alarms": alarms,
        "oom_kills": kills,
        "prediction_symptoms": symptoms,
        "agent_cpu_percent_of_one_core": round(100 * cpu / seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    w.add_argument("--cgroup", default="")
    w.add_argument("--mode", choices=["leak", "steady", "sawtooth", "burst", "cpu"], required=True)
    w.add_argument("--base", type=float, default=16)
    w.add_argument("--high", type=float, default=0)
    w.add_argument("--rate", type=float, default=0)
    w.add_argument("--flat", type=float, default=0)
    w.add_argument("--period", type=float, default=10)
    w.add_argument("--hold", type=float, default=5)
    w.add_argument("--max-seconds", type=float, default=150)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--act-seconds", type=float, default=90)
    parser.add_argument("--healthy-seconds", type=float, default=300)
    parser.add_argument("--phases", default="lead,act,healthy")
    parser.add_argument("--save", type=Path)
    parser.add_argument(
        "--crash", default="", help="crash settings for the agents, e.g. 'min_duration: 8s'"
    )
    args = parser.parse_args()
    if args.cmd == "worker":
        worker(args)
        return
    if args.crash:
        global CRASH
        CRASH = f"crash: {{{args.crash}}}\n"
    tmp = Path(tempfile.mkdtemp(prefix="setpoint-oom-"))
    result: dict[str, Any] = {}
    try:
        phases = args.phases.split(",")
        if "lead" in phases:
            result["lead"] = [e for n in range(args.rounds) for e in lead_round(n, tmp)]
        if "act" in phases:
            result["act"] = act_phase(args.act_seconds, tmp)
        if "healthy" in phases:
            result["healthy"] = healthy_phase(args.healthy_seconds, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(result, indent=1)
    print(text)
    if args.save:
        args.save.write_text(text)


if __name__ == "__main__":
    main()
