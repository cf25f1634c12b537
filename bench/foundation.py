"""Foundation benchmark: setpoint's own overhead, heal time after kill -9, SIGSTOP detection.

It starts a real ``setpoint run`` with the example config (mode auto, interval 1s, ``web`` =
``python -m http.server`` on a free port, HTTP probe timeout 1s / interval 1s / failures 2,
playbooks restart-web and unstick-web), each run in its own temporary data dir, and measures:

1. overhead: CPU (utime+stime of the setpoint process itself, children excluded) as % of one
   core, and RSS sampled every second, over ``--seconds`` after a 5 s warm-up;
2. heal time: ``--kills`` times, kill -9 web's pid and time the first successful HTTP GET of
   the web port by this script (polled every 5 ms);
3. SIGSTOP detection: ``--stops`` times, SIGSTOP web's pid and time the firing
   ``service.unhealthy`` symptom (its ``ts`` minus the wall-clock SIGSTOP time) and the first
   answer of the restarted web; half right after a fresh start, half after >= 3 s steady.

Phases 2 and 3 run a second setpoint whose config adds a large restart budget (the default of
3 restarts per 10 minutes would escalate). It is a benchmark, run on demand, never a test:

    .venv/bin/python bench/foundation.py [--seconds 60] [--kills 20] [--stops 10] [--json]

Everything it starts is stopped at the end; it only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.metadata
import importlib.resources
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import psutil

T = TypeVar("T")

GATE = "gate: {restart_budget: {count: 1000, window: 10m}, cooldown: 0s, flap: {after: 1000}}"
CPU_GOAL_PCT = 0.5
RSS_GOAL_MIB = 80.0
HEAL_GOAL_S = 0.3
DETECT_GOAL_S = 2.0
POLL_S = 0.005
JITTER_S = 0.5  # setpoint checks process state every 0.5 s; spread the faults over that cycle
DEAD = (None, "Z", "X")
TICK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark could not go on (setpoint died, a wait timed out)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_for(what: str, check: Callable[[], T | None], timeout: float, every: float) -> T:
    """Call ``check`` every ``every`` seconds until it returns something not None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(every)
    raise BenchError(f"timed out after {timeout:g}s waiting for {what}")


# --- /proc and the web port -------------------------------------------------------------


def proc_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat from field 3 (state) on; None when the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_state(pid: int) -> str | None:
    fields = proc_fields(pid)
    return fields[0] if fields else None


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` alone (cutime/cstime of children are not counted)."""
    fields = proc_fields(pid)
    if fields is None:
        raise BenchError(f"setpoint (pid {pid}) is gone")
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def web_answers(port: int, timeout: float = 0.2) -> bool:
    """One plain-socket ``GET /``; True on an HTTP 200 status line."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while len(head) < 12:
                chunk = sock.recv(64)
                if not chunk:
                    break
                head += chunk
    except OSError:
        return False
    return head.startswith(b"HTTP/") and head[9:12] == b"200"


def seconds_until_answer(port: int, old_pid: int, t0: float, timeout: float) -> float | None:
    """Seconds from ``t0`` (perf_counter) to the first 200 from a process other than old_pid.

    Nothing connects while ``old_pid`` is still alive, so a stopped server's backlog or a
    dying one can never answer for the new one.
    """
    deadline = t0 + timeout
    old_dead = False
    while time.perf_counter() < deadline:
        old_dead = old_dead or proc_state(old_pid) in DEAD
        if old_dead and web_answers(port):
            return time.perf_counter() - t0
        time.sleep(POLL_S)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the setpoint process ---------------------------------------------------------------


def example_config(web_port: int, python: str, gate: bool) -> str:
    """The packaged example config on ``web_port``, web run by ``python``, maybe ``GATE``."""
    text = importlib.resources.files("setpoint.config").joinpath("example.yaml").read_text()
    for old, count in (('"python3"', 1), ("18080", 2)):
        if text.count(old) != count:
            raise BenchError(f"example.yaml changed shape: expected {old} {count} time(s)")
    text = text.replace('"python3"', json.dumps(python)).replace("18080", str(web_port))
    return f"{text}\n{GATE}\n" if gate else text


@dataclass
class Agent:
    """One ``setpoint run`` in its own temporary directory, and its HTTP API."""

    tmp: Path
    config_text: str
    web_port: int
    api_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    seen: dict[int, float] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    @property
    def log_path(self) -> Path:
        return self.tmp / "setpoint.log"

    @property
    def pid(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            raise BenchError(f"setpoint is not running; see {self.log_path}")
        return self.proc.pid

    def start(self) -> None:
        config = self.tmp / "setpoint.yaml"
        config.write_text(self.config_text)
        argv = [sys.executable, "-m", "setpoint", "run", "--config", str(config)]
        argv += ["--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.api_port}"]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                argv, cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        wait_for("setpoint's API", self._api_up, 30, 0.1)

    def _api_up(self) -> bool | None:
        _ = self.pid
        try:
            self.get("/healthz")
        except (OSError, BenchError):
            return None
        return True

    def get(self, path: str, **params: object) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=5)
        try:
            conn.request("GET", path + query)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise BenchError(f"GET {path}{query}: HTTP {response.status}: {body[:200]!r}")
        return json.loads(body)

    def healthy_pid(self, other_than: int | None = None) -> int | None:
        """Web's pid when /status calls it healthy (and it is not ``other_than``)."""
        _ = self.pid
        web = self.get("/status")["services"]["web"]
        pid = web.get("pid")
        if web.get("health") != "healthy" or pid is None or pid == other_than:
            return None
        with contextlib.suppress(psutil.Error):
            self.seen.setdefault(int(pid), psutil.Process(int(pid)).create_time())
        return int(pid)

    def stable_pid(self, seconds: float) -> int:
        """Wait until one web pid has been healthy for ``seconds`` in a row."""
        since: dict[int, float] = {}

        def check() -> int | None:
            pid = self.healthy_pid()
            if pid is None:
                since.clear()
                return None
            first = since.setdefault(pid, time.monotonic())
            return pid if time.monotonic() - first >= seconds else None

        return wait_for(f"web healthy for {seconds:g}s", check, seconds + 30, 0.05)

    def stop(self) -> None:
        """SIGTERM setpoint and wait; then kill any child it left, by recorded pid."""
        for pid in self.seen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log("setpoint ignored SIGTERM for 20 s; killing it")
                self.proc.kill()
                self.proc.wait(timeout=5)
        leftovers = dict(self.seen)
        with contextlib.suppress(OSError, ValueError):
            ledger = json.loads((self.data_dir / "children.json").read_text())
            leftovers |= {int(e["pid"]): float(e["create_time"]) for e in ledger.values()}
        for pid, created in leftovers.items():
            kill_if_same(pid, created)


def kill_if_same(pid: int, created: float) -> None:
    """SIGKILL ``pid`` if it is still the process that started at ``created``."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - created) > 0.01 or proc.status() == psutil.STATUS_ZOMBIE:
            return
        log(f"killing leftover pid {pid}: {' '.join(proc.cmdline())}")
        proc.kill()
        proc.wait(timeout=5)
    except (psutil.Error, psutil.TimeoutExpired):
        return


@contextlib.contextmanager
def running(config_text: str, web_port: int, keep: bool, label: str) -> Iterator[Agent]:
    tmp = Path(tempfile.mkdtemp(prefix=f"setpoint-bench-{label}-"))
    agent = Agent(tmp, config_text, web_port)
    try:
        log(f"{label}: starting setpoint in {tmp}")
        agent.start()
        yield agent
    finally:
        agent.stop()
        if keep:
            log(f"{label}: kept {tmp} (setpoint.log, data/)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --- the three phases -------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float | int | None]:
    """n, median, p90 (inclusive quantiles), min, max and mean of ``values``."""
    if not values:
        return {"n": 0, "median": None, "p90": None, "min": None, "max": None, "mean": None}
    p90 = statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else None
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": values[0] if p90 is None else p90,
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def measure_overhead(agent: Agent, seconds: float, warmup: float) -> dict[str, Any]:
    """CPU % of one core and RSS of setpoint alone, and of its foveal worker apart.

    The API is not called in the window.
    """
    pid_before = agent.stable_pid(1.0)
    starts_before = agent.get("/status")["services"]["web"]["starts"]
    time.sleep(warmup)
    worker = (agent.get("/status").get("foveal") or {}).get("pid")
    log(f"overhead: sampling setpoint (pid {agent.pid}, worker {worker}) for {seconds:g} s")
    cpu0, t0 = cpu_seconds(agent.pid), time.monotonic()
    wcpu0 = cpu_seconds(worker) if worker else 0.0
    rss: list[float] = []
    wrss: list[float] = []
    for i in range(1, math.ceil(seconds) + 1):
        time.sleep(max(0.0, t0 + i - time.monotonic()))
        rss.append(rss_mib(agent.pid))
        if worker:
            wrss.append(rss_mib(worker))
    cpu1, t1 = cpu_seconds(agent.pid), time.monotonic()
    wcpu1 = cpu_seconds(worker) if worker else 0.0
    web = agent.get("/status")["services"]["web"]
    return {
        "worker_pid": worker,
        "worker_cpu_pct_one_core": 100 * (wcpu1 - wcpu0) / (t1 - t0),
        "worker_rss_mib_max": max(wrss, default=0.0),
        "seconds": round(t1 - t0, 3),
        "warmup_s": warmup,
        "cpu_seconds": round(cpu1 - cpu0, 3),
        "cpu_pct_one_core": 100 * (cpu1 - cpu0) / (t1 - t0),
        "clock_ticks_per_s": TICK,
        "rss_mib_mean": statistics.fmean(rss),
        "rss_mib_max": max(rss),
        "rss_samples": len(rss),
        "web_restarted_during_window": web["starts"] != starts_before or web["pid"] != pid_before,
    }


def measure_heal(agent: Agent, kills: int) -> dict[str, Any]:
    """kill -9 web ``kills`` times; time the first 200 from the web port after each."""
    reps: list[dict[str, Any]] = []
    for i in range(kills):
        pid = agent.stable_pid(1.5)
        wall, t0 = time.time(), time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        heal = seconds_until_answer(agent.web_port, pid, t0, 10.0)
        reps.append({"rep": i + 1, "pid": pid, "kill_ts": wall, "heal_s": heal})
        log(f"heal {i + 1}/{kills}: pid {pid} -> " + (f"{heal:.3f} s" if heal else "TIMEOUT"))
    attach_decisions(agent, reps)
    healed = [r["heal_s"] for r in reps if r["heal_s"] is not None]
    return {
        "heal_s": summary(healed),
        "failed": len(reps) - len(healed),
        "decided_s": summary([r["decided_s"] for r in reps if r.get("decided_s") is not None]),
        "verified_s": summary([r["verified_s"] for r in reps if r.get("verified_s") is not None]),
        "reps": reps,
    }


def attach_decisions(agent: Agent, reps: list[dict[str, Any]]) -> None:
    """Add setpoint's own view to each kill: when it decided, when the restart verified."""
    if not reps:
        return

    def settled() -> list[dict[str, Any]] | None:
        found = agent.get("/decisions", start_time=reps[0]["kill_ts"] - 1, limit=1000)
        done = [d for d in found if d["trigger"] == "service.down" and d["outcome_ts"]]
        return done if len(done) >= len(reps) else None

    try:  # the store is written a moment after the fact
        found = wait_for("every kill's decision", settled, 10, 0.2)
    except BenchError:
        found = agent.get("/decisions", start_time=reps[0]["kill_ts"] - 1, limit=1000)
    down = sorted(
        (d for d in found if d["trigger"] == "service.down"), key=lambda d: d["timestamp"]
    )
    for rep in reps:
        match = next((d for d in down if d["timestamp"] >= rep["kill_ts"]), None)
        if match is None:
            continue
        rep["decided_s"] = match["timestamp"] - rep["kill_ts"]
        if match["outcome_ts"] is not None:
            rep["verified_s"] = match["outcome_ts"] - rep["kill_ts"]
        rep["outcome"] = match["outcome"]


def fresh_pid(agent: Agent, jitter: float) -> int:
    """kill -9 the settled web, then return the new pid the moment /status calls it healthy."""
    old = agent.stable_pid(1.0)
    time.sleep(jitter)
    os.kill(old, signal.SIGKILL)
    return wait_for("restarted web healthy", lambda: agent.healthy_pid(other_than=old), 15, 0.01)


def firing_unhealthy(agent: Agent, since: float) -> dict[str, Any] | None:
    """The earliest firing ``service.unhealthy`` symptom of web with ts >= ``since``."""
    best: dict[str, Any] | None = None
    for incident in agent.get("/incidents", entity="service:web", limit=20):
        resolved = incident["resolved_at"]
        if "service.unhealthy" not in incident["kinds"] or (resolved and resolved < since):
            continue
        for symptom in agent.get(f"/incidents/{incident['id']}")["symptoms"]:
            if (
                symptom["kind"] == "service.unhealthy"
                and symptom["state"] == "firing"
                and symptom["ts"] >= since
                and (best is None or symptom["ts"] < best["ts"])
            ):
                best = symptom
    return best


def sigstop_rep(agent: Agent, fresh: bool) -> dict[str, Any]:
    """One SIGSTOP, at a random phase of setpoint's state-check cycle (``JITTER_S``)."""
    jitter = random.uniform(0, JITTER_S)
    if fresh:
        pid = fresh_pid(agent, jitter)
    else:
        pid = agent.stable_pid(3.0)
        time.sleep(jitter)
    wall, t0 = time.time(), time.perf_counter()
    os.kill(pid, signal.SIGSTOP)
    age = wall - agent.seen.get(pid, wall)
    try:
        answered = seconds_until_answer(agent.web_port, pid, t0, 20.0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)  # a no-op once setpoint has replaced it
    symptom = None
    with contextlib.suppress(BenchError):
        symptom = wait_for("the firing symptom", lambda: firing_unhealthy(agent, wall), 10, 0.2)
    evidence = symptom["evidence"] if symptom else {}
    return {
        "group": "fresh" if fresh else "steady",
        "jitter_s": jitter,
        "pid": pid,
        "age_at_stop_s": age,
        "stop_ts": wall,
        "detect_s": symptom["ts"] - wall if symptom else None,
        "detected_by": ("state" if "state" in evidence else "probe") if symptom else None,
        "reason": evidence.get("reason"),
        "answered_s": answered,
    }


def measure_sigstop(agent: Agent, stops: int) -> dict[str, Any]:
    """SIGSTOP web ``stops`` times, alternating fresh-start and steady-state repetitions."""
    reps: list[dict[str, Any]] = []
    for i in range(stops):
        rep = sigstop_rep(agent, fresh=i % 2 == 0)
        reps.append(rep)
        detect, answered = rep["detect_s"], rep["answered_s"]
        log(
            f"sigstop {i + 1}/{stops} ({rep['group']}, age {rep['age_at_stop_s']:.2f} s): "
            f"detected {'-' if detect is None else f'{detect:.3f} s'} "
            f"by {rep['detected_by']}, answered {'-' if answered is None else f'{answered:.3f} s'}"
        )
    groups: dict[str, Any] = {}
    for group in ("fresh", "steady"):
        mine = [r for r in reps if r["group"] == group]
        groups[group] = {
            "detect_s": summary([r["detect_s"] for r in mine if r["detect_s"] is not None]),
            "answered_s": summary([r["answered_s"] for r in mine if r["answered_s"] is not None]),
            "age_at_stop_s": summary([r["age_at_stop_s"] for r in mine]),
            "undetected": sum(r["detect_s"] is None for r in mine),
            "unanswered": sum(r["answered_s"] is None for r in mine),
        }
    return {"groups": groups, "reps": reps}


# --- report -----------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next(
            (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model
        )
    return {
        "cpu_model": model,
        "nproc": len(os.sched_getaffinity(0)),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "setpoint": importlib.metadata.version("setpoint"),
        "loadavg_at_start": os.getloadavg(),
    }


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with the measured number it is judged on and whether it was met."""
    rows: list[tuple[str, float | None, float]] = []
    if over := result.get("overhead"):
        rows += [
            ("CPU % of one core", over["cpu_pct_one_core"], CPU_GOAL_PCT),
            ("RSS max MiB", over["rss_mib_max"], RSS_GOAL_MIB),
        ]
    if heal := result.get("heal"):
        rows.append(("heal median s", heal["heal_s"]["median"], HEAL_GOAL_S))
    if stop := result.get("sigstop"):
        for group in ("fresh", "steady"):
            rows.append(
                (f"detect max s ({group})", stop["groups"][group]["detect_s"]["max"], DETECT_GOAL_S)
            )
    return [
        {
            "goal": name,
            "measured": value,
            "limit": limit,
            "met": value is not None and value <= limit,
        }
        for name, value, limit in rows
    ]


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [headers, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("   " + line.rstrip() for line in lines)


def loads(values: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in values)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def timing_row(label: str, stats: dict[str, Any], failed: int | None, goal: str) -> list[str]:
    cells = [ms(stats[k]) for k in ("median", "p90", "min", "max")]
    return [label, str(stats["n"]), "-" if failed is None else str(failed), *cells, goal]


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    out = [
        "setpoint foundation benchmark",
        f"command:  {result['command']}",
        f"machine:  {m['cpu_model']}, {m['nproc']} CPUs, {m['kernel']}, Python {m['python']}, "
        f"setpoint {m['setpoint']}",
        f"load:     {loads(m['loadavg_at_start'])} at start, "
        f"{loads(result['loadavg_at_end'])} at end",
        f"web:      {result['web_python']} -m http.server PORT (the example's python3 replaced)",
    ]
    if over := result.get("overhead"):
        out += [
            "",
            f"1. Overhead: example config, interval 1s, {over['seconds']:.0f} s after "
            f"{over['warmup_s']:g} s warm-up",
            table(
                ["metric", "measured", "goal"],
                [
                    ["CPU, % of one core", f"{over['cpu_pct_one_core']:.3f} %", "<= 0.5 %"],
                    ["RSS mean", f"{over['rss_mib_mean']:.1f} MiB", ""],
                    ["RSS max", f"{over['rss_mib_max']:.1f} MiB", "<= 80 MiB"],
                    [
                        "foveal worker: CPU, RSS max",
                        f"{over['worker_cpu_pct_one_core']:.3f} %, "
                        f"{over['worker_rss_mib_max']:.1f} MiB",
                        "",
                    ],
                ],
            ),
        ]
        if over["web_restarted_during_window"]:
            out.append("   note: web was restarted during the window")
    if result.get("heal") or result.get("sigstop"):
        out += ["", f"Phases 2-3 add to the example config: {GATE}"]
    headers = ["measure", "n", "failed", "median", "p90", "min", "max", "goal"]
    if heal := result.get("heal"):
        out += [
            "",
            "2. Heal time: kill -9 of web -> first HTTP 200 seen by the bench (5 ms polling)",
            table(
                headers,
                [
                    timing_row("heal", heal["heal_s"], heal["failed"], "median <= 300 ms"),
                    timing_row(
                        "  setpoint decided", heal["decided_s"], None, "(setpoint's record)"
                    ),
                    timing_row(
                        "  restart verified", heal["verified_s"], None, "(setpoint's record)"
                    ),
                ],
            ),
        ]
    if stop := result.get("sigstop"):
        rows = []
        for group, label in (("fresh", "fresh start"), ("steady", "steady >= 3 s")):
            g = stop["groups"][group]
            rows.append(timing_row(f"detect, {label}", g["detect_s"], g["undetected"], "<= 2 s"))
            rows.append(timing_row(f"answers, {label}", g["answered_s"], g["unanswered"], ""))
        ages = stop["groups"]["fresh"]["age_at_stop_s"]
        out += [
            "",
            "3. SIGSTOP of web: firing service.unhealthy ts - SIGSTOP time; answers = first 200",
            table(headers, rows),
            f"   fresh-start reps stopped web {ms(ages['min'])}-{ms(ages['max'])} after its start;",
            "   each fault waits a random 0-500 ms first, to sample every phase of setpoint's"
            " 0.5 s state check",
        ]
    out += ["", "Goals:"]
    for g in result["goals"]:
        value = "-" if g["measured"] is None else f"{g['measured']:.3f}"
        verdict = "met" if g["met"] else "MISSED"
        out.append(f"   {g['goal']:<24} {value:>8}  limit {g['limit']:<5g} {verdict}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60, help="overhead window (0 skips)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds before the window")
    parser.add_argument("--kills", type=int, default=20, help="kill -9 repetitions (0 skips)")
    parser.add_argument("--stops", type=int, default=10, help="SIGSTOP repetitions (0 skips)")
    parser.add_argument("--web-python", default=sys.executable, help="interpreter for web")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    parser.add_argument("--save", type=Path, help="also write the JSON object to this file")
    args = parser.parse_args(argv)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    result: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/foundation.py", *sys.argv[1:]]),
        "machine": machine_facts(),
        "web_python": args.web_python,
        "gate_phases_2_3": GATE,
    }
    try:
        if args.seconds > 0:
            port = free_port()
            text = example_config(port, args.web_python, gate=False)
            with running(text, port, args.keep, "overhead") as agent:
                result["overhead"] = measure_overhead(agent, args.seconds, args.warmup)
        if args.kills > 0 or args.stops > 0:
            port = free_port()
            text = example_config(port, args.web_python, gate=True)
            with running(text, port, args.keep, "faults") as agent:
                if args.kills > 0:
                    result["heal"] = measure_heal(agent, args.kills)
                if args.stops > 0:
                    result["sigstop"] = measure_sigstop(agent, args.stops)
    except BenchError as exc:
        log(f"benchmark aborted: {exc}")
        return 1
    result["goals"] = goals(result)
    result["loadavg_at_end"] = os.getloadavg()
    if args.save:
        args.save.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
