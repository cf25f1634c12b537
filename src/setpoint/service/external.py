"""A service setpoint did not start: found by pid file or cmdline regex.

Its exit is heard through a pidfd; a restart stops the old process the careful way and
then runs the configured ``restart`` argv, which must start the service again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from setpoint.config.models import ServiceConfig
from setpoint.errors import ApplyFailed
from setpoint.monitor.process import find_pids
from setpoint.service.base import ExitCallback, Maintenance
from setpoint.service.signals import ExitListeners, alive, terminate

log = logging.getLogger(__name__)


def find_pid(
    match: str | None, pid_file: Path | None, proc_root: Path = Path("/proc")
) -> int | None:
    """The live pid named by ``pid_file``, or the lowest whose cmdline matches ``match``.

    >>> find_pid(None, Path("/nonexistent.pid")) is None
    True
    """
    live = [pid for pid in find_pids(match, pid_file, proc_root) if alive(pid)]
    return live[0] if live else None


class ExternalProcess:
    """A process found by ``pid_file`` or ``match``."""

    def __init__(self, name: str, config: ServiceConfig) -> None:
        self.name = name
        self.config = config
        self.maintenance = Maintenance()
        self._pid: int | None = None
        self._listeners = ExitListeners(self.maintenance, self._gone)
        self.starts = 0

    def pid(self) -> int | None:
        """The current pid, found again when the last one is gone.

        Safe on any thread (the API reads status on a worker thread); the exit watch
        is armed on the event loop only, at its next look.
        """
        if self._pid is None or not alive(self._pid):
            self._pid = find_pid(self.config.match, self.config.pid_file)
        if self._pid is not None and self._listeners.pid != self._pid and _on_loop():
            self._listeners.watch(self._pid)
        return self._pid

    def _gone(self, pid: int) -> None:
        if self._pid == pid:
            self._pid = None

    def on_exit(self, callback: ExitCallback) -> None:
        """Call ``callback`` when the found process exits."""
        self._listeners.add(callback)

    async def start(self) -> None:
        """Run the ``restart`` argv and wait for it to exit."""
        argv = self.config.restart or []
        # Output goes to a file, not a pipe, and the command's exit (not EOF) ends the
        # wait: a service the command starts in the background may keep the fd open.
        with tempfile.TemporaryFile() as out:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
                )
            except OSError as exc:
                raise ApplyFailed(f"cannot run restart for {self.name}: {exc.strerror}") from exc
            try:
                await asyncio.wait_for(proc.wait(), self.config.verify_timeout)
            except TimeoutError as exc:
                proc.kill()
                await proc.wait()
                why = f"restart command for {self.name} did not finish in time"
                raise ApplyFailed(why) from exc
            if proc.returncode != 0:
                out.seek(max(0, out.seek(0, os.SEEK_END) - 1024))
                tail = out.read().decode(errors="replace")[-200:].strip()
                why = f"restart command for {self.name} exited {proc.returncode}: {tail}"
                raise ApplyFailed(why)
        self.starts += 1

    async def stop(self) -> None:
        """Stop the found process: SIGCONT, SIGTERM, grace, SIGKILL."""
        pid = self.pid()
        if pid is not None:
            how = await terminate(pid, self.config.stop_timeout)
            log.info("stopped %s (pid %d) with %s", self.name, pid, how)

    def close(self) -> None:
        """Stop listening for the exit (releases the pidfd)."""
        self._listeners.close()

    def describe(self) -> dict[str, Any]:
        """Kind, pid and how it is found."""
        how = {"pid_file": str(self.config.pid_file)} if self.config.pid_file else {}
        return {"kind": self.config.kind, "pid": self._pid, "match": self.config.match, **how}


def _on_loop() -> bool:
    """True on the event loop's thread: a pidfd watch can only be armed there."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
