"""Monit on the predictive and CPU faults of ``setpoint chaos``: CPU burst and burn, leak, disk.

The faults are the chaos scenarios' own classes (:class:`~setpoint.chaos.scenarios.CpuBurst`,
the ``burn`` mode, :class:`~setpoint.chaos.leak.MemoryLeak`,
:class:`~setpoint.chaos.spool.SpoolFill`, :class:`~setpoint.chaos.spool.SpoolBurst`) with
their rates, limits and watch times, injected into victims this script starts. A Monit
daemon of its own (``monit -c CONF -d 1 -I``: 1 s cycle, files in a temporary
directory) watches them with the rules a Monit user would write, one phase each:

- ``cpu-burst`` (5 s spin, harmless) and ``cpu-burn`` (spin until stopped): the victim of
  :mod:`bench.monit` (pid file, HTTP check) with ``if cpu > P% for N cycles then
  restart``, one phase per ``--cpu-rule P:N``. Monit counts a process's CPU against as
  many cores as it has threads (at most all of them); the spinning victim has two, so
  the default ``P`` is chaos.yaml's bound of 10 % of one core divided by
  ``min(2, cores)``, and ``N`` is 3 (the issue's rule) and 15 (setpoint's ``for: 15s``).
- ``leak``: the victim and a bystander holding a 64 MiB ballast in a memory cgroup of
  the run (:class:`~setpoint.chaos.cage.MemoryCage`, 448 MiB, removed at the end), and
  ``if totalmem > 80 % of the limit then restart`` on the victim.
- ``disk-fill`` and ``disk-burst``: Monit has no directory-size test, so a program check
  (``du -s --block-size=1`` of the spool against 80 % of its 128 MiB budget) whose
  failure runs ``find SPOOL -type f ! -newermt '5 seconds ago' -delete``, what
  setpoint's ``disk.delete older_than: 5s`` does.

For each fault: detect is Monit's first error line about the check (its log tailed
every 20 ms; for the process faults, the resource-limit line); heal is the scenario's
own test polled every 50 ms; lead (leak, fill) is the scenario's own: time from that
line to the OOM kill or the full budget, measured, or extrapolated from the readings
up to it with their least-squares rate; actions are Monit's restarts (or execs) in the
window, wrongful on a burst. A harmless fault is watched for its whole window, as
``setpoint chaos`` does. Every wait is bounded; Monit, the victims and the bystander
are stopped by pid, the cgroup and the temporary directories removed.

    .venv/bin/python -m bench.monit_more [--reps 3] [--cpu-rule 5:3 --cpu-rule 5:15]
        [--faults cpu-burst cpu-burn leak disk-fill disk-burst] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from bench.monit import SETTLE_S, Lab, LogLine, LogTail, Reaper, answer_pid, median, wait_for
from bench.monit_data import Monit, script
from setpoint.chaos.cage import MIB, MemoryCage
from setpoint.chaos.leak import MemoryLeak
from setpoint.chaos.scenarios import (
    CPU_BURST_S,
    SCENARIOS,
    CpuBurst,
    Fault,
    Predictive,
    ProcessFault,
)
from setpoint.chaos.spool import SpoolBurst, SpoolFill
from setpoint.chaos.victims import BALLAST_MIB, SPOOL_BUDGET_MIB, LabNames, free_port, set_fault
from setpoint.chaos.victims import Lab as ChaosLab

PY = sys.executable
POLL_S = 0.05
RECORD_GRACE_S = 5.0
CHAOS_CPU_BOUND = 10.0
"""chaos.yaml's ``thresholds`` bound on ``service.cpu_percent`` (percent of one core)."""
SHARE = 0.8
"""The fixed rules' fraction of the limit (memory) or budget (spool)."""
FAULTS = ("cpu-burst", "cpu-burn", "leak", "disk-fill", "disk-burst")
ACTION_WORDS = {"victim": "trying to restart", "spool": "exec"}


@dataclass(frozen=True)
class CpuRule:
    """``if cpu > percent% for cycles cycles then restart``."""

    percent: float
    cycles: int

    @classmethod
    def parse(cls, text: str) -> CpuRule:
        """``P:N`` as given to ``--cpu-rule``."""
        try:
            percent, cycles = text.split(":")
            rule = cls(float(percent), int(cycles))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--cpu-rule {text!r}: expected PERCENT:CYCLES, e.g. 5:3"
            ) from None
        if not 0 < rule.percent <= 100 or rule.cycles < 1:
            raise argparse.ArgumentTypeError(
                f"--cpu-rule {text!r}: percent must be in (0, 100] and cycles >= 1"
            )
        return rule

    def monit(self) -> str:
        return f"  if cpu > {self.percent:g}% for {self.cycles} cycles then restart\n"

    def __str__(self) -> str:
        return f"cpu > {self.percent:g}% for {self.cycles} cycles"


@dataclass
class Result:
    fault: str
    rule: str
    rep: int
    detected: bool
    detect_s: float | None
    healed: bool
    heal_s: float | None
    lead_s: float | None
    actions: int
    victim_cpu: float | None
    damage: list[str]
    monit_line: str | None


class CpuMeter:
    """A process's CPU use over its first ``span`` seconds, in % of one core (setpoint's unit)."""

    def __init__(self, pid: int, span: float) -> None:
        self.proc = psutil.Process(pid)
        self.span = span
        self.t0 = time.monotonic()
        self.c0 = self._cpu()
        self.last: tuple[float, float] | None = None

    def _cpu(self) -> float:
        times = self.proc.cpu_times()
        return float(times.user + times.system)

    def sample(self) -> None:
        now = time.monotonic()
        if now - self.t0 <= self.span:
            with contextlib.suppress(psutil.Error):
                self.last = (now, self._cpu())

    def percent(self) -> float | None:
        if self.last is None or self.last[0] <= self.t0:
            return None
        return round(100 * (self.last[1] - self.c0) / (self.last[0] - self.t0), 1)


def chaos_view(workdir: Path, victim_port: int, cage: MemoryCage | None = None) -> ChaosLab:
    """The chaos lab's names and paths, for the scenarios' fault classes; no agent runs."""
    names = LabNames(uuid.uuid4().hex[:8], 0, victim_port, 0, 0, 0)
    view = ChaosLab(names, workdir)
    view.cage = cage
    return view


def burn(view: ChaosLab, pid: int) -> Fault:
    set_fault(view.names.victim_port, "burn")
    return ProcessFault(view, pid)


INJECT: dict[str, Callable[[ChaosLab, int], Fault]] = {
    "cpu-burst": CpuBurst,
    "cpu-burn": burn,
    "leak": MemoryLeak,
    "disk-fill": lambda view, _: SpoolFill(view),
    "disk-burst": lambda view, _: SpoolBurst(view),
}


def run_fault(
    tail: LogTail,
    view: ChaosLab,
    fault_name: str,
    rule: str,
    rep: int,
    pid: int,
    check: str,
    contains: str = "",
    harm: Callable[[], list[str]] = list,
) -> Result:
    """Inject one fault, watch Monit handle it as ``setpoint chaos`` watches setpoint, undo it."""
    scenario = SCENARIOS[fault_name]
    meter = None
    if fault_name.startswith("cpu-"):
        meter = CpuMeter(pid, CPU_BURST_S if fault_name == "cpu-burst" else scenario.timeout)
    t0_wall = time.time()
    fault = INJECT[fault_name](view, pid)
    line: LogLine | None = None
    heal_s: float | None = None
    try:
        deadline = time.monotonic() + scenario.timeout
        healed_at = math.inf
        while time.monotonic() < deadline:
            if meter is not None:
                meter.sample()
            line = line or tail.first_error_since(t0_wall, check, contains)
            if heal_s is None and fault.healed():
                heal_s, healed_at = time.time() - t0_wall, time.monotonic()
            recorded = line is not None or time.monotonic() - healed_at > RECORD_GRACE_S
            if scenario.acts and heal_s is not None and recorded:
                break
            time.sleep(POLL_S)
        time.sleep(0.1)
        line = line or tail.first_error_since(t0_wall, check, contains)
        lead = fault.lead(line.seen_wall) if line and isinstance(fault, Predictive) else None
        damage = fault.damage() + harm()
    finally:
        fault.undo()
    word = ACTION_WORDS[check]
    return Result(
        fault=fault_name,
        rule=rule,
        rep=rep,
        detected=line is not None,
        detect_s=round(line.seen_wall - t0_wall, 3) if line else None,
        healed=heal_s is not None,
        heal_s=round(heal_s, 3) if heal_s is not None else None,
        lead_s=lead,
        actions=sum(f"'{check}'" in t and word in t for t in tail.since(t0_wall)),
        victim_cpu=meter.percent() if meter else None,
        damage=damage,
        monit_line=line.text if line else None,
    )


def report(result: Result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(result)), flush=True)
        return
    print(
        f"{result.fault:10} rep {result.rep} [{result.rule}]: detect {result.detect_s} s, "
        f"heal {result.heal_s} s, lead {result.lead_s} s, actions {result.actions}, "
        f"victim cpu {result.victim_cpu} % | {result.monit_line}",
        flush=True,
    )


def settle(lab: Lab) -> None:
    """Let Monit see a healthy victim, then wait a random part of its cycle more."""
    wait_for(lambda: answer_pid(lab.port) is not None, 60, "the victim")
    time.sleep(SETTLE_S + random.uniform(0, 1))


def process_phase(
    faults: list[str],
    rule: str,
    rules: str,
    reaper: Reaper,
    args: argparse.Namespace,
    cage: MemoryCage | None = None,
    harm: Callable[[], list[str]] = list,
) -> list[Result]:
    """The bench.monit victim with extra Monit rules, through ``faults`` in turn."""
    workdir = Path(tempfile.mkdtemp(prefix="setpoint-monit-more-"))
    victim_args = cage.victim_args() if cage else []
    lab = Lab(workdir, reaper, victim_args, rules)
    results: list[Result] = []
    try:
        lab.start()
        assert lab.tail is not None
        view = chaos_view(workdir, lab.port, cage)
        for fault in faults:
            for rep in range(1, args.reps + 1):
                pid = lab.victim_pid()
                result = run_fault(
                    lab.tail, view, fault, rule, rep, pid, "victim", "resource limit", harm
                )
                results.append(result)
                report(result, args.json)
                settle(lab)
    finally:
        lab.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


class Bystander:
    """A steady victim copy holding the chaos ballast in the leak's cgroup."""

    def __init__(self, cage: MemoryCage, reaper: Reaper, workdir: Path) -> None:
        self.port = free_port()
        command = [PY, "-m", "setpoint.chaos.victim", str(self.port), *cage.victim_args()]
        with open(workdir / "bystander.out", "ab") as out:
            self.proc = subprocess.Popen(
                [*command, "--ballast", str(BALLAST_MIB)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        reaper.keep.add(self.proc.pid)
        wait_for(lambda: answer_pid(self.port) == self.proc.pid, 15, "the bystander")

    def harm(self) -> list[str]:
        """The bystander killed or not answering."""
        if self.proc.poll() is not None:
            return [f"bystander pid {self.proc.pid} died (rc {self.proc.returncode})"]
        return [] if answer_pid(self.port, 2.0) == self.proc.pid else ["bystander not answering"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def leak_phase(reaper: Reaper, args: argparse.Namespace) -> list[Result]:
    """The victim and the bystander in the run's memory cgroup; Monit's fixed memory rule."""
    cage = MemoryCage.make(f"monit-{uuid.uuid4().hex[:8]}")
    limit_mb = int(SHARE * cage.limit / MIB)
    rule = f"totalmem > {limit_mb} MB ({SHARE:.0%} of {cage.limit // MIB} MiB)"
    workdir = Path(tempfile.mkdtemp(prefix="setpoint-monit-bystander-"))
    bystander: Bystander | None = None
    try:
        bystander = Bystander(cage, reaper, workdir)
        rules = f"  if totalmem > {limit_mb} MB then restart\n"
        return process_phase(["leak"], rule, rules, reaper, args, cage, bystander.harm)
    finally:
        if bystander is not None:
            bystander.stop()
        cage.remove()
        shutil.rmtree(workdir, ignore_errors=True)


def disk_phase(faults: list[str], args: argparse.Namespace) -> list[Result]:
    """A spool with a budget, watched by a Monit program check whose failure trims it."""
    workdir = Path(tempfile.mkdtemp(prefix="setpoint-monit-spool-"))
    view = chaos_view(workdir, 0)
    view.spool.mkdir(parents=True)
    limit = int(SHARE * SPOOL_BUDGET_MIB * MIB)
    probe = script(
        workdir / "spool-size",
        f"used=$(du -s --block-size=1 {view.spool} | cut -f1)\n"
        f'echo "spool holds $used bytes"\n[ "$used" -le {limit} ]',
    )
    trim = script(
        workdir / "trim-spool", f"exec find {view.spool} -type f ! -newermt '5 seconds ago' -delete"
    )
    rule = f"du > {limit // MIB} MiB ({SHARE:.0%} of {SPOOL_BUDGET_MIB} MiB) then exec trim"
    monit = Monit(
        workdir,
        f'check program spool with path "{probe}" with timeout 5 seconds\n'
        f'  if status != 0 then exec "{trim}"\n',
    )
    results: list[Result] = []
    try:
        for fault in faults:
            for rep in range(1, args.reps + 1):
                result = run_fault(monit.tail, view, fault, rule, rep, 0, "spool")
                results.append(result)
                report(result, args.json)
                time.sleep(SETTLE_S + random.uniform(0, 1))
    finally:
        monit.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def table(results: list[Result]) -> None:
    print(
        "\n| fault | Monit rule | detected | median detect_s | healed | median heal_s "
        "| median lead_s (runs) | Monit actions per run | victim CPU, % of a core |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for key in dict.fromkeys((r.fault, r.rule) for r in results):
        rows = [r for r in results if (r.fault, r.rule) == key]
        leads = " / ".join(str(r.lead_s) for r in rows)
        cpu = " / ".join(str(r.victim_cpu) for r in rows if r.victim_cpu is not None) or "-"
        print(
            f"| {key[0]} | `{key[1]}` | {sum(r.detected for r in rows)}/{len(rows)} | "
            f"{median([r.detect_s for r in rows])} | {sum(r.healed for r in rows)}/{len(rows)} | "
            f"{median([r.heal_s for r in rows])} | {median([r.lead_s for r in rows])} ({leads}) | "
            f"{' / '.join(str(r.actions) for r in rows)} | {cpu} |"
        )
    harmed = [f"{r.fault} rep {r.rep}: {d}" for r in results for d in r.damage]
    print("\ndamage: " + ("; ".join(harmed) if harmed else "none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--cpu-rule",
        type=CpuRule.parse,
        action="append",
        metavar="PERCENT:CYCLES",
        help="a Monit cpu rule for the CPU faults (repeatable; default: chaos.yaml's "
        "bound in Monit's unit for 3 and for 15 cycles)",
    )
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    percent = CHAOS_CPU_BOUND / min(2, os.cpu_count() or 1)
    cpu_rules = args.cpu_rule or [CpuRule(percent, 3), CpuRule(percent, 15)]

    version = subprocess.run(["monit", "-V"], capture_output=True, text=True, check=True)
    print(f"# {version.stdout.splitlines()[0]}; load average {os.getloadavg()}", file=sys.stderr)
    started = time.monotonic()
    reaper = Reaper()
    results: list[Result] = []
    try:
        cpu_faults = [f for f in args.faults if f.startswith("cpu-")]
        for rule in cpu_rules if cpu_faults else []:
            results += process_phase(cpu_faults, str(rule), rule.monit(), reaper, args)
        if "leak" in args.faults:
            results += leak_phase(reaper, args)
        disk_faults = [f for f in args.faults if f.startswith("disk-")]
        if disk_faults:
            results += disk_phase(disk_faults, args)
    finally:
        reaper.stop()
    print(f"# {time.monotonic() - started:.0f} s; load average {os.getloadavg()}", file=sys.stderr)
    table(results)


if __name__ == "__main__":
    main()
