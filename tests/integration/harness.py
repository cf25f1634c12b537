"""A real ``setpoint run`` subprocess against a real throwaway web service."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` every 50 ms until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def web_config(port: int, mode: str = "auto", extra: str = "") -> str:
    """The issue's example configuration, on a free port."""
    return f"""\
version: 1
mode: {mode}
interval: 1s
services:
  web:
    command: ["{sys.executable}", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
    probe: {{http: "http://127.0.0.1:{port}/", timeout: 1s, interval: 1s, failures: 2}}
playbooks:
  - name: restart-web
    when: {{symptom: service.down, service: web}}
    do: [{{action: service.restart}}]
  - name: unstick-web
    when: {{symptom: service.unhealthy, service: web}}
    do: [{{action: service.restart}}]
{extra}"""


class RunningAgent:
    """A ``setpoint run`` process, its API and its data dir."""

    def __init__(self, tmp: Path, config_text: str, args: tuple[str, ...] = ()) -> None:
        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.config = tmp / "setpoint.yaml"
        self.config.write_text(config_text)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "setpoint.log"
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RunningAgent:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "setpoint",
                    "run",
                    "--config",
                    str(self.config),
                    "--data-dir",
                    str(self.data_dir),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    *self.args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._healthz, 20, f"setpoint API at {self.url} (log: {self.log})")
        return self

    def _healthz(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"setpoint exited: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def service(self, name: str = "web") -> dict[str, Any]:
        return dict(self.get("/status")["services"][name])

    def healthy_pid(self, name: str = "web", other_than: int | None = None) -> int | None:
        svc = self.service(name)
        pid = svc["pid"]
        if svc["health"] == "healthy" and pid is not None and pid != other_than:
            return int(pid)
        return None

    def decisions(self, **params: Any) -> list[dict[str, Any]]:
        return list(self.get("/decisions", **params))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)

    def children(self) -> dict[str, Any]:
        path = self.data_dir / "children.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None
