"""Helpers of the OOM benchmark: its workers, a real ``setpoint run`` and our own cgroups."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

MEMORY_ROOT = Path("/sys/fs/cgroup/memory")
MIB = 2**20


def make_cgroup(name: str, limit_mib: int) -> Path:
    """Create a cgroup-v1 memory sub-cgroup with a hard limit (and no swap to fall back on)."""
    path = MEMORY_ROOT / name
    path.mkdir()
    (path / "memory.limit_in_bytes").write_text(str(limit_mib * MIB))
    return path


def cgroup_oom_kills(path: Path) -> int:
    """How many processes the kernel OOM-killed in this cgroup."""
    for line in (path / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def remove_cgroup(path: Path) -> None:
    """Kill what is left in our cgroup (only our workers), then remove it."""
    for _ in range(50):
        pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    path.rmdir()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Agent:
    """A ``setpoint run`` in its own data dir, talking on a free 127.0.0.1 port."""

    def __init__(self, tmp: Path, config: str) -> None:
        tmp.mkdir(parents=True)
        self.data_dir = tmp / "data"
        self.config = tmp / "setpoint.yaml"
        self.config.write_text(config)
        self.log = tmp / "setpoint.log"
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Agent:
        argv = [sys.executable, "-m", "setpoint", "run", "--config", str(self.config)]
        argv += ["--data-dir", str(self.data_dir), "--listen", self.url.removeprefix("http://")]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"setpoint exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("setpoint API did not come up")

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def service(self, name: str) -> dict[str, Any]:
        return dict(self.get("/status")["services"][name])

    def wait_pid(self, name: str, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.service(name).get("pid")
            if pid:
                return int(pid)
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not start")

    def decisions(self) -> list[dict[str, Any]]:
        return list(self.get("/decisions", limit=1000))

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def symptom_kinds(self) -> dict[str, int]:
        """Count of firing prediction symptoms by kind and entity (read after stop)."""
        db = sqlite3.connect(f"file:{self.data_dir / 'setpoint.db'}?mode=ro", uri=True)
        rows = db.execute(
            "SELECT kind, entity, COUNT(*) FROM symptoms WHERE state = 'firing'"
            " AND kind LIKE '%predicted' GROUP BY kind, entity"
        ).fetchall()
        db.close()
        return {f"{k} {e}": n for k, e, n in rows}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def worker(args: argparse.Namespace) -> None:
    """A process with a memory pattern; joins ``--cgroup`` first, exits after max seconds."""
    if args.cgroup:
        Path(args.cgroup, "cgroup.procs").write_text(str(os.getpid()))
    held: list[bytearray] = []
    start = time.monotonic()

    def size(mib: float) -> None:
        want = int(mib)
        while len(held) < want:
            held.append(bytearray(b"x") * MIB)
        del held[want:]

    size(args.base)
    while (now := time.monotonic() - start) < args.max_seconds:
        if args.mode == "leak":
            size(args.base + max(0.0, now - args.flat) * args.rate)
        elif args.mode == "sawtooth":
            phase = now % args.period
            rise = args.period * 0.8
            top = args.high - args.base
            size(
                args.base
                + top
                * (phase / rise if phase < rise else 1 - (phase - rise) / (args.period - rise))
            )
        elif args.mode == "burst":
            size(args.base + (args.high - args.base if now % args.period < args.hold else 0))
        elif args.mode == "cpu":
            end = time.monotonic() + (5.0 if now % args.period < 1 else 0.0)
            while time.monotonic() < end:
                pass
        time.sleep(0.1)
