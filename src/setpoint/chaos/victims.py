"""The lab of ``setpoint chaos``: the shipped config rendered, and the agent running it.

The agent is a real ``setpoint run`` subprocess; it starts the victims itself as
supervised ``command`` services, so they die with it. The victim and the bystander
live in the run's :class:`~setpoint.chaos.cage.MemoryCage`; the disk scenarios write
under ``<workdir>/disk``, the only allow-listed tree, whose ``spool`` has a byte budget.
The lab talks to the agent over its API and to the victims over HTTP, and every wait
in here is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any, TypeVar

import httpx

from setpoint.chaos.cage import MemoryCage

T = TypeVar("T")

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
KEY_LIMIT = 1000
SPOOL_BUDGET_MIB = 128
BALLAST_MIB = 64


class LabError(RuntimeError):
    """The lab could not be set up or a bounded wait ran out; the message says which."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``predicate`` every 50 ms until it returns something truthy, or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass(frozen=True)
class LabNames:
    """Everything one chaos run names: its id, ports, database and key prefix."""

    run_id: str
    api_port: int
    victim_port: int
    bystander_port: int
    db_app_port: int
    cache_app_port: int
    report_app_port: int = 0

    @property
    def database(self) -> str:
        """The database this run creates and drops."""
        return f"setpoint_chaos_{self.run_id}"

    @property
    def reports_database(self) -> str:
        """The second database of the run, where its report queries run."""
        return f"{self.database}_reports"

    @property
    def key_prefix(self) -> str:
        """The Redis key prefix this run fills and empties."""
        return f"setpoint-chaos:{self.run_id}"

    @property
    def pg_url(self) -> str:
        """A URL to the run's database."""
        return PG_URL.rsplit("/", 1)[0] + "/" + self.database

    @property
    def reports_url(self) -> str:
        """A URL to the run's reports database."""
        return PG_URL.rsplit("/", 1)[0] + "/" + self.reports_database

    def config(self, disk_root: Path, memory_args: list[str]) -> str:
        """The shipped ``chaos.yaml`` with this run's names filled in."""
        text = files("setpoint.chaos").joinpath("chaos.yaml").read_text()
        return Template(text).substitute(
            python=sys.executable,
            memory_args=", ".join(json.dumps(a) for a in memory_args),
            ballast=BALLAST_MIB,
            disk_root=disk_root,
            spool_budget=f"{SPOOL_BUDGET_MIB}MiB",
            victim_port=self.victim_port,
            bystander_port=self.bystander_port,
            db_app_port=self.db_app_port,
            cache_app_port=self.cache_app_port,
            report_app_port=self.report_app_port,
            reports_database=self.reports_database,
            pg_url=self.pg_url,
            database=self.database,
            redis_url=REDIS_URL,
            key_prefix=self.key_prefix,
            key_limit=KEY_LIMIT,
        )


class Lab:
    """A ``setpoint run`` subprocess on the chaos config, and ways to look at it."""

    def __init__(self, names: LabNames, workdir: Path) -> None:
        self.names = names
        self.workdir = workdir
        self.api = f"http://127.0.0.1:{names.api_port}"
        self.log = workdir / "setpoint.log"
        self.disk = workdir / "disk"
        self.proc: subprocess.Popen[bytes] | None = None
        self.cage: MemoryCage | None = None

    @property
    def spool(self) -> Path:
        """The budgeted directory the disk scenarios fill."""
        return self.disk / "spool"

    def start(self, timeout: float = 30.0) -> None:
        """Make the cage and the disk tree, start the agent, wait for healthy victims."""
        self.cage = MemoryCage.make(self.names.run_id)
        self.spool.mkdir(parents=True)
        config = self.workdir / "chaos.yaml"
        config.write_text(self.names.config(self.disk, self.cage.victim_args()))
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "setpoint",
                    "run",
                    "--config",
                    str(config),
                    "--data-dir",
                    str(self.workdir / "data"),
                    "--listen",
                    f"127.0.0.1:{self.names.api_port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, timeout, f"setpoint and its victims (log: {self.log})")

    def _ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise LabError(f"setpoint exited; its log is {self.log}")
        try:
            return all(self.healthy_pid(name) for name in ("victim", "bystander"))
        except httpx.HTTPError:
            return False

    def get(self, path: str, **params: Any) -> Any:
        """GET an agent API route and return its JSON."""
        response = httpx.get(f"{self.api}{path}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def service(self, name: str) -> dict[str, Any]:
        """The agent's view of one service: pid, health and so on."""
        return dict(self.get("/status")["services"][name])

    def healthy_pid(self, name: str) -> int | None:
        """The service's pid while the agent says it is healthy, else None."""
        svc = self.service(name)
        pid = svc.get("pid")
        return int(pid) if svc.get("health") == "healthy" and pid is not None else None

    def decisions_since(self, since: float) -> list[dict[str, Any]]:
        """Decisions taken at or after ``since`` (epoch seconds), oldest first."""
        found = self.get("/decisions", start_time=since, limit=500)
        return sorted(found, key=lambda d: float(d["timestamp"]))

    def open_incidents(self) -> list[dict[str, Any]]:
        """Incidents still open."""
        return list(self.get("/incidents", status="open"))

    def stop(self) -> None:
        """Stop the agent (and with it the victims) by its pid, then remove the cage."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
        finally:
            if self.cage is not None:
                self.cage.remove()


def victim_answer(port: int, timeout: float = 1.0) -> dict[str, Any] | None:
    """The victim's ``GET /`` body when it answers 200 in time, else None."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=timeout)
    except httpx.HTTPError:
        return None
    return dict(response.json()) if response.status_code == 200 else None


def set_fault(port: int, mode: str) -> None:
    """Switch the victim on ``port`` to fault ``mode``."""
    httpx.post(f"http://127.0.0.1:{port}/fault/{mode}", timeout=2).raise_for_status()
