"""A command setpoint starts and supervises as its own child.

The child gets its own session (so its whole process group can be signalled) and
dies with setpoint (``PR_SET_PDEATHSIG``), and its pid is recorded in the data dir,
so a setpoint restarted after a crash finds and stops any survivor before it starts
the service again: never two copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Any

from setpoint.config.models import ServiceConfig
from setpoint.errors import ApplyFailed
from setpoint.service.base import ExitCallback, ExitInfo, Maintenance
from setpoint.service.children import ChildLedger
from setpoint.service.signals import terminate

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when setpoint dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class SupervisedProcess:
    """A service whose ``command`` setpoint runs; exits are heard from ``wait()``."""

    def __init__(
        self, name: str, config: ServiceConfig, log_dir: Path, ledger: ChildLedger
    ) -> None:
        self.name = name
        self.config = config
        self.maintenance = Maintenance()
        self._log_dir = log_dir
        self._ledger = ledger
        self._proc: asyncio.subprocess.Process | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._callbacks: list[ExitCallback] = []
        self._stopping = False
        self.starts = 0

    def pid(self) -> int | None:
        """The child's pid while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def on_exit(self, callback: ExitCallback) -> None:
        """Call ``callback`` with the exit of every child this handle starts."""
        self._callbacks.append(callback)

    async def start(self) -> None:
        """Spawn the command (no-op while a child runs)."""
        if self.pid() is not None:
            return
        argv = self.config.command or []
        env = {**os.environ, **self.config.env}
        self._log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self._log_dir / f"{self.name}.log"
        with open(log_path, "ab") as out:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=self.config.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                raise ApplyFailed(f"cannot start {self.name}: {argv[0]}: {exc.strerror}") from exc
        self._proc = proc
        self._stopping = False
        self.starts += 1
        self._ledger.add(self.name, proc.pid)
        self._reaper = asyncio.create_task(self._reap(proc), name=f"reap-{self.name}")
        log.info("started %s (pid %d): %s", self.name, proc.pid, " ".join(argv))

    async def _reap(self, proc: asyncio.subprocess.Process) -> None:
        returncode = await proc.wait()
        self._ledger.remove(self.name, proc.pid)
        info = ExitInfo(proc.pid, returncode, expected=self._stopping)
        if not info.expected:
            log.warning("%s: %s", self.name, info.describe())
        for callback in list(self._callbacks):
            callback(info)

    async def stop(self) -> None:
        """Stop the child's process group: SIGCONT, SIGTERM, grace, SIGKILL."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        self._stopping = True

        async def wait(timeout: float) -> bool:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), timeout)
            return proc.returncode is not None

        how = await terminate(proc.pid, self.config.stop_timeout, group=True, wait=wait)
        if self._reaper is not None:
            await self._reaper
        log.info("stopped %s (pid %d) with %s", self.name, proc.pid, how)

    def describe(self) -> dict[str, Any]:
        """Kind, pid, command and how often it was started."""
        return {
            "kind": "command",
            "pid": self.pid(),
            "command": shlex.join(self.config.command or []),
            "starts": self.starts,
        }
