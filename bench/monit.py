"""Monit on the faults of ``setpoint chaos``: crash, hang, slow and error, timed the same way.

Starts the chaos victim (``python -m setpoint.chaos.victim PORT``) on a free 127.0.0.1
port as a plain background process with a pid file, and a Monit daemon of its own
(``monit -c CONF -d 1 -I``: 1 s cycle, kept in the foreground so this script holds its
pid) whose control file, pid file, state file, id file and log live in a temporary
directory. The check is the closest Monit has to setpoint's chaos probe (HTTP ``GET /``,
timeout 1 s, 2 failures)::

    check process victim with pidfile DIR/victim.pid
      start program = "DIR/start-victim" with timeout 2 seconds
      stop program = "DIR/stop-victim" with timeout 10 seconds
      if failed host 127.0.0.1 port PORT protocol http request "/"
         with timeout 1 seconds for 2 cycles then restart

The stop program sends SIGTERM and SIGCONT (so a stopped victim can take the TERM), and
SIGKILL after 2 s, like setpoint's ``stop_timeout: 2s``. Monit pauses connection tests
for the start timeout after a process starts, so it is 2 s here (the default is 30 s)
and each fault is injected 4 to 5 s (random, so at a random phase of Monit's cycle)
after the victim came back. For each fault and repetition:
inject it (SIGKILL, SIGSTOP, ``POST /fault/slow``, ``POST /fault/error``), then

- detect: the first error line Monit writes about ``'victim'`` after the fault, as seen by
  a tail of its log polled every 20 ms (Monit's own log timestamp, 1 s resolution, is
  recorded beside it as ``detect_log_s``);
- heal: the first HTTP 200 from the victim port served by a new pid, polled every 20 ms.

Every wait is bounded (60 s per fault). Monit and the victim are stopped by pid and the
temporary directory removed at the end (``--keep`` keeps it).

    .venv/bin/python -m bench.monit [--reps 3] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

PY = sys.executable
FAULTS = ("crash", "hang", "slow", "error")
FAULT_WAIT_S = 60.0
POLL_S = 0.02
START_GRACE_S = 2
SETTLE_S = 4.0
PR_SET_CHILD_SUBREAPER = 36
LOG_TS = re.compile(r"^\[(?P<ts>[^\]]+)\]\s+(?P<level>\w+)\s*:\s*(?P<msg>.*)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answer_pid(port: int, timeout: float = 0.25) -> int | None:
    """The pid in the victim's 200 answer, or None (error, timeout, refused)."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=timeout)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return int(response.json()["pid"])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(POLL_S)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def is_victim(pid: int) -> bool:
    try:
        return b"setpoint.chaos.victim" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def parse_log_time(stamp: str) -> float | None:
    """Epoch seconds of a Monit log timestamp (ISO 8601 or the classic ``Mon DD HH:MM:SS``)."""
    with contextlib.suppress(ValueError):
        return dt.datetime.fromisoformat(stamp).timestamp()
    parts = stamp.split()
    with contextlib.suppress(ValueError, IndexError):
        now = dt.datetime.now(dt.UTC)
        parsed = dt.datetime.strptime(" ".join(parts[-3:]), "%b %d %H:%M:%S")
        return parsed.replace(year=now.year, tzinfo=dt.UTC).timestamp()
    return None


class Reaper:
    """Adopts and reaps orphaned victims, as a real init would.

    The victim is started in the background by a shell that exits at once, so it is
    orphaned; PID 1 of this VM reaps orphans late, which Monit would report as a zombie.
    This process becomes a child subreaper and reaps every exited child but Monit.
    """

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        self.keep: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info is not None and info.si_pid not in self.keep:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(info.si_pid, os.WNOHANG)
                continue
            time.sleep(POLL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


@dataclass
class LogLine:
    seen_wall: float
    log_wall: float | None
    level: str
    text: str


class LogTail:
    """Reads Monit's log every 20 ms and stamps each new line with the time it was seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[LogLine] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._offset = 0
        self._partial = b""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._read()
            time.sleep(POLL_S)

    def _read(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        if not chunk:
            return
        now = time.time()
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        with self._lock:
            for raw in complete:
                text = raw.decode(errors="replace")
                match = LOG_TS.match(text)
                level = match["level"] if match else ""
                stamp = parse_log_time(match["ts"]) if match else None
                self.lines.append(LogLine(now, stamp, level, text))

    def first_error_since(
        self, since: float, check: str = "victim", contains: str = ""
    ) -> LogLine | None:
        """Monit's first error line about ``check`` (and holding ``contains``) since then."""
        with self._lock:
            for line in self.lines:
                if (
                    line.seen_wall >= since
                    and line.level == "error"
                    and f"'{check}'" in line.text
                    and contains in line.text
                ):
                    return line
        return None

    def since(self, since: float) -> list[str]:
        with self._lock:
            return [line.text for line in self.lines if line.seen_wall >= since]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class Lab:
    """The victim behind a pid file and a Monit daemon watching it, in one temp dir.

    ``victim_args`` are added to the victim's command line (e.g. a cgroup to join) and
    ``rules`` (indented Monit ``if ... then ...`` lines) to its check.
    """

    def __init__(
        self, workdir: Path, reaper: Reaper, victim_args: Sequence[str] = (), rules: str = ""
    ) -> None:
        self.dir = workdir
        self.reaper = reaper
        self.victim_args = " ".join(victim_args)
        self.rules = rules
        self.port = free_port()
        self.pidfile = workdir / "victim.pid"
        self.conf = workdir / "monitrc"
        self.log = workdir / "monit.log"
        self.monit: subprocess.Popen[bytes] | None = None
        self.tail: LogTail | None = None

    def write_files(self) -> None:
        start = self.dir / "start-victim"
        start.write_text(
            "#!/bin/sh\n"
            f"cd {self.dir}\n"
            f"{PY} -m setpoint.chaos.victim {self.port} {self.victim_args}"
            f" >>{self.dir}/victim.out 2>&1 &\n"
            f"echo $! > {self.pidfile}\n"
        )
        stop = self.dir / "stop-victim"
        stop.write_text(
            "#!/bin/sh\n"
            f'pid=$(cat {self.pidfile} 2>/dev/null) || exit 0\n[ -n "$pid" ] || exit 0\n'
            'kill -TERM "$pid" 2>/dev/null; kill -CONT "$pid" 2>/dev/null\n'
            'i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.02; '
            "i=$((i+1)); done\n"
            'kill -KILL "$pid" 2>/dev/null\n'
            "exit 0\n"
        )
        for script in (start, stop):
            script.chmod(0o700)
        self.conf.write_text(
            "set daemon 1\n"
            f"set log {self.log}\n"
            f"set pidfile {self.dir}/monit.pid\n"
            f"set statefile {self.dir}/monit.state\n"
            f"set idfile {self.dir}/monit.id\n"
            f"check process victim with pidfile {self.pidfile}\n"
            f'  start program = "{start}" with timeout {START_GRACE_S} seconds\n'
            f'  stop program = "{stop}" with timeout 10 seconds\n'
            f'  if failed host 127.0.0.1 port {self.port} protocol http request "/"\n'
            "     with timeout 1 seconds for 2 cycles then restart\n" + self.rules
        )
        self.conf.chmod(0o600)

    def start(self) -> None:
        self.write_files()
        subprocess.run([str(self.dir / "start-victim")], check=True, timeout=10)
        wait_for(lambda: answer_pid(self.port) is not None, 15, "the victim to answer")
        self.tail = LogTail(self.log)
        self.monit = subprocess.Popen(
            ["monit", "-c", str(self.conf), "-d", "1", "-I"],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "monit.stderr", "ab"),  # noqa: SIM115
        )
        self.reaper.keep.add(self.monit.pid)
        # Monit is up once it has logged its start and checked the victim once.
        wait_for(lambda: self.log.exists() and self.log.stat().st_size > 0, 15, "monit's log")
        time.sleep(SETTLE_S + random.uniform(0, 1))
        if self.monit.poll() is not None:
            raise RuntimeError(f"monit exited; see {self.dir}")

    def victim_pid(self) -> int:
        pid = answer_pid(self.port, timeout=1.0)
        if pid is None or not is_victim(pid):
            raise RuntimeError("the victim is not running healthy")
        return pid

    def stop(self) -> None:
        if self.monit is not None and self.monit.poll() is None:
            self.monit.send_signal(signal.SIGTERM)
            try:
                self.monit.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.monit.kill()
                self.monit.wait(timeout=5)
        if self.tail is not None:
            self.tail.stop()
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            if is_victim(pid):
                os.kill(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGCONT)


@dataclass
class Result:
    fault: str
    rep: int
    detected: bool
    detect_s: float | None
    detect_log_s: float | None
    healed: bool
    heal_s: float | None
    monit_line: str | None
    restarted: bool


def inject(lab: Lab, fault: str, pid: int) -> None:
    if fault == "crash":
        os.kill(pid, signal.SIGKILL)
    elif fault == "hang":
        os.kill(pid, signal.SIGSTOP)
    else:
        httpx.post(f"http://127.0.0.1:{lab.port}/fault/{fault}", timeout=2).raise_for_status()


def run_fault(lab: Lab, fault: str, rep: int) -> Result:
    assert lab.tail is not None
    pid = lab.victim_pid()
    t0_wall = time.time()
    t0 = time.monotonic()
    inject(lab, fault, pid)
    deadline = t0 + FAULT_WAIT_S
    heal_s: float | None = None
    while time.monotonic() < deadline:
        got = answer_pid(lab.port)
        if got is not None and got != pid:
            heal_s = time.monotonic() - t0
            break
        time.sleep(POLL_S)
    # The log line may be read a tick after the heal: give the tail a moment.
    time.sleep(0.1)
    line = lab.tail.first_error_since(t0_wall)
    if heal_s is None and is_victim(pid):
        # Leave nothing broken behind for the next fault.
        os.kill(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGCONT)
    restarted = any("restart" in text for text in lab.tail.since(t0_wall))
    return Result(
        fault=fault,
        rep=rep,
        detected=line is not None,
        detect_s=round(line.seen_wall - t0_wall, 3) if line else None,
        detect_log_s=(
            round(line.log_wall - t0_wall, 3) if line and line.log_wall is not None else None
        ),
        healed=heal_s is not None,
        heal_s=round(heal_s, 3) if heal_s is not None else None,
        monit_line=line.text if line else None,
        restarted=restarted,
    )


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    version = subprocess.run(["monit", "-V"], capture_output=True, text=True, check=True)
    print(f"# {version.stdout.splitlines()[0]}", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="setpoint-monit-"))
    reaper = Reaper()
    lab = Lab(workdir, reaper)
    results: list[Result] = []
    try:
        lab.start()
        for fault in FAULTS:
            for rep in range(1, args.reps + 1):
                result = run_fault(lab, fault, rep)
                results.append(result)
                if args.json:
                    print(json.dumps(asdict(result)), flush=True)
                else:
                    print(
                        f"{fault:6} rep {rep}: detect {result.detect_s} s "
                        f"(log stamp {result.detect_log_s}), heal {result.heal_s} s "
                        f"| {result.monit_line}",
                        flush=True,
                    )
                # Let Monit see the new victim healthy before the next fault, and do not
                # inject in step with Monit's cycle: a random phase, as in real life.
                wait_for(lambda: answer_pid(lab.port) is not None, FAULT_WAIT_S, "the victim")
                time.sleep(SETTLE_S + random.uniform(0, 1))
    finally:
        lab.stop()
        reaper.stop()
        if args.keep:
            print(f"# kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print("\n| fault | detected | median detect_s | healed | median heal_s | runs (heal_s) |")
    print("|---|---|---|---|---|---|")
    for fault in FAULTS:
        rows = [r for r in results if r.fault == fault]
        detected = sum(r.detected for r in rows)
        healed = sum(r.healed for r in rows)
        heals = " / ".join(str(r.heal_s) for r in rows)
        print(
            f"| {fault} | {detected}/{len(rows)} | {median([r.detect_s for r in rows])} | "
            f"{healed}/{len(rows)} | {median([r.heal_s for r in rows])} | {heals} |"
        )


if __name__ == "__main__":
    main()
