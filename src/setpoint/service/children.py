"""The ledger of supervised children, kept in the data dir across setpoint's own crashes."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


class ChildLedger:
    """Records ``name -> (pid, start time)`` of every running supervised child.

    >>> import tempfile
    >>> ledger = ChildLedger(Path(tempfile.mkdtemp()) / "children.json")
    >>> ledger.add("web", os.getpid()); list(ledger.entries())
    ['web']
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> dict[str, dict[str, float]]:
        """What the ledger holds; an unreadable ledger is logged and treated as empty."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable child ledger %s: %s", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, float]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def add(self, name: str, pid: int) -> None:
        """Record a child that just started (one already exited and reaped leaves nothing)."""
        try:
            create_time = psutil.Process(pid).create_time()
        except psutil.NoSuchProcess:
            return
        data = self.entries()
        data[name] = {"pid": pid, "create_time": create_time}
        self._write(data)

    def remove(self, name: str, pid: int) -> None:
        """Forget a child that exited."""
        data = self.entries()
        if data.get(name, {}).get("pid") == pid:
            del data[name]
            self._write(data)

    def reap_orphans(self, grace: float = 5.0) -> list[int]:
        """Stop children a previous setpoint left running; return their pids.

        A pid counts only if the process still has the recorded start time, so a
        recycled pid is never touched.
        """
        stopped = []
        for name, entry in self.entries().items():
            pid = int(entry.get("pid", 0))
            try:
                proc = psutil.Process(pid)
                if abs(proc.create_time() - float(entry.get("create_time", -1))) > 0.01:
                    continue
            except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
                continue
            log.warning("stopping %s (pid %d) left running by a previous setpoint", name, pid)
            group = _leads_group(pid)
            _send(pid, signal.SIGCONT, group)
            _send(pid, signal.SIGTERM, group)
            deadline = time.monotonic() + grace
            while proc.is_running() and time.monotonic() < deadline:
                psutil.wait_procs([proc], timeout=0.1)
            if proc.is_running():
                _send(pid, signal.SIGKILL, group)
            stopped.append(pid)
        self._write({})
        return stopped


def _send(pid: int, sig: signal.Signals, group: bool) -> None:
    """Signal the process, or its whole group when it leads one; gone is fine."""
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
