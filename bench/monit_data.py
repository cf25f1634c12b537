"""Monit on the database faults of ``setpoint chaos``: an idle transaction and Redis bloat.

The faults are the chaos scenarios' own (:class:`~setpoint.chaos.scenarios.IdleTransaction`:
a session idle in a transaction holding a row lock with writers queued behind it, in a
database this script creates and drops; :class:`~setpoint.chaos.scenarios.KeyBloat`:
twice the cache app's key budget poured under a key prefix of this run, beside 100 keys
that must stay). A Monit daemon of this script's own (``monit -c CONF -d 1 -I``, 1 s
cycle, files in a temporary directory) watches them in two ways, one phase each:

- ``native``: what Monit offers for the two servers, its protocol tests::

      check host postgres with address 127.0.0.1
        if failed port 5432 protocol pgsql with timeout 1 seconds then alert
      check host redis with address 127.0.0.1
        if failed port 6379 protocol redis with timeout 1 seconds then alert

  The fault is held for ``--hold`` seconds (20) and undone; detected means any error
  line Monit wrote about the check meanwhile.
- ``program``: the same command probes as setpoint's chaos config, as Monit program
  checks whose failure runs a fix a Monit user would write, doing what setpoint's
  actuator does (``pg_terminate_backend`` of sessions idle in a transaction for over 1 s
  in the run's database; ``redis-cli --scan`` + ``UNLINK`` of the bloated prefix)::

      check program pg-idle with path "DIR/probe-pg" with timeout 5 seconds
        if status != 0 then exec "DIR/fix-pg"

  detect: Monit's first error line about the check, seen by a tail of its log every
  20 ms; heal: the fault's own test (every writer got its row; no key left under the
  prefix), polled every 20 ms, at most 30 s.

Monit is stopped by pid, the database dropped, the keys deleted and the directory
removed at the end.

    .venv/bin/python -m bench.monit_data [--reps 3] [--hold 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.monit import LogTail, median, wait_for
from setpoint.chaos.runner import chaos_database
from setpoint.chaos.scenarios import Fault
from setpoint.chaos.stores import IdleTransaction, KeyBloat
from setpoint.chaos.victims import KEY_LIMIT, PG_URL, REDIS_URL, LabNames

PY = sys.executable
FAULT_WAIT_S = 30.0
POLL_S = 0.02
SETTLE_S = 3.0
FAULTS = ("pg-idle", "redis-bloat")
CHECKS = {"pg-idle": ("postgres", "pg-idle"), "redis-bloat": ("redis", "redis-bloat")}


@dataclass
class Result:
    phase: str
    fault: str
    rep: int
    detected: bool
    detect_s: float | None
    healed: bool
    heal_s: float | None
    damage: list[str]
    monit_line: str | None


class Monit:
    """A Monit daemon of this run on one control file; its log tailed every 20 ms."""

    def __init__(self, workdir: Path, checks: str) -> None:
        self.dir = workdir
        self.log = workdir / "monit.log"
        conf = workdir / "monitrc"
        conf.write_text(
            "set daemon 1\n"
            f"set log {self.log}\n"
            f"set pidfile {workdir}/monit.pid\n"
            f"set statefile {workdir}/monit.state\n"
            f"set idfile {workdir}/monit.id\n" + checks
        )
        conf.chmod(0o600)
        self.tail = LogTail(self.log)
        self.proc = subprocess.Popen(
            ["monit", "-c", str(conf), "-d", "1", "-I"],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "monit.stderr", "ab"),  # noqa: SIM115
        )
        wait_for(lambda: self.log.exists() and self.log.stat().st_size > 0, 15, "monit's log")
        time.sleep(SETTLE_S)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.tail.stop()


def script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o700)
    return str(path)


def native_checks() -> str:
    return (
        "check host postgres with address 127.0.0.1\n"
        "  if failed port 5432 protocol pgsql with timeout 1 seconds then alert\n"
        "check host redis with address 127.0.0.1\n"
        "  if failed port 6379 protocol redis with timeout 1 seconds then alert\n"
    )


def program_checks(workdir: Path, names: LabNames) -> str:
    pattern = f"{names.key_prefix}:*"
    probe_pg = script(
        workdir / "probe-pg",
        f"exec {PY} -m setpoint.chaos.probe pg-idle {names.pg_url} {names.database} 1",
    )
    fix_pg = script(
        workdir / "fix-pg",
        f"exec psql -X -q -h 127.0.0.1 -U postgres -d {names.database} -c "
        '"SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
        "WHERE datname = current_database() AND state = 'idle in transaction' "
        "AND state_change < now() - interval '1 second'\"",
    )
    probe_redis = script(
        workdir / "probe-redis",
        f"exec {PY} -m setpoint.chaos.probe redis-keys {REDIS_URL} '{pattern}' {KEY_LIMIT}",
    )
    fix_redis = script(
        workdir / "fix-redis",
        f"redis-cli -h 127.0.0.1 --scan --pattern '{pattern}' | xargs -r -n 500 "
        "redis-cli -h 127.0.0.1 unlink >/dev/null",
    )
    return (
        f'check program pg-idle with path "{probe_pg}" with timeout 5 seconds\n'
        f'  if status != 0 then exec "{fix_pg}"\n'
        f'check program redis-bloat with path "{probe_redis}" with timeout 5 seconds\n'
        f'  if status != 0 then exec "{fix_redis}"\n'
    )


def inject(fault: str, names: LabNames) -> Fault:
    if fault == "pg-idle":
        return IdleTransaction(names.pg_url)
    return KeyBloat(names.key_prefix)


def run_fault(
    monit: Monit, phase: str, fault: str, rep: int, names: LabNames, hold: float
) -> Result:
    check = CHECKS[fault][0 if phase == "native" else 1]
    t0_wall = time.time()
    t0 = time.monotonic()
    injected = inject(fault, names)
    heal_s: float | None = None
    try:
        limit = hold if phase == "native" else FAULT_WAIT_S
        while time.monotonic() - t0 < limit:
            if phase == "program" and injected.healed():
                heal_s = time.monotonic() - t0
                break
            time.sleep(POLL_S)
        time.sleep(0.1)
        line = monit.tail.first_error_since(t0_wall, check)
        damage = injected.damage()
    finally:
        injected.undo()
    return Result(
        phase=phase,
        fault=fault,
        rep=rep,
        detected=line is not None,
        detect_s=round(line.seen_wall - t0_wall, 3) if line else None,
        healed=heal_s is not None,
        heal_s=round(heal_s, 3) if heal_s is not None else None,
        damage=damage,
        monit_line=line.text if line else None,
    )


def run_phase(
    phase: str, checks: Callable[[Path], str], names: LabNames, args: argparse.Namespace
) -> list[Result]:
    workdir = Path(tempfile.mkdtemp(prefix=f"setpoint-monit-{phase}-"))
    monit = Monit(workdir, checks(workdir))
    results: list[Result] = []
    try:
        for fault in FAULTS:
            for rep in range(1, args.reps + 1):
                result = run_fault(monit, phase, fault, rep, names, args.hold)
                results.append(result)
                if args.json:
                    print(json.dumps(asdict(result)), flush=True)
                else:
                    print(
                        f"{phase:7} {fault:11} rep {rep}: detect {result.detect_s} s, "
                        f"heal {result.heal_s} s | {result.monit_line}",
                        flush=True,
                    )
                time.sleep(SETTLE_S)
    finally:
        monit.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--hold", type=float, default=20.0, help="seconds a native fault lasts")
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    args = parser.parse_args()

    version = subprocess.run(["monit", "-V"], capture_output=True, text=True, check=True)
    print(f"# {version.stdout.splitlines()[0]}; PostgreSQL {PG_URL}", file=sys.stderr)
    names = LabNames(uuid.uuid4().hex[:8], 0, 0, 0, 0, 0)
    with chaos_database(names):
        results = run_phase("native", lambda _: native_checks(), names, args)
        results += run_phase("program", lambda d: program_checks(d, names), names, args)

    print("\n| Monit check | fault | detected | median detect_s | healed | median heal_s |")
    print("|---|---|---|---|---|---|")
    for phase in ("native", "program"):
        for fault in FAULTS:
            rows = [r for r in results if r.phase == phase and r.fault == fault]
            print(
                f"| {phase} | {fault} | {sum(r.detected for r in rows)}/{len(rows)} | "
                f"{median([r.detect_s for r in rows])} | {sum(r.healed for r in rows)}/"
                f"{len(rows)} | {median([r.heal_s for r in rows])} |"
            )


if __name__ == "__main__":
    main()
