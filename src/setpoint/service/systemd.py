"""A systemd unit, driven through ``systemctl`` with argv only."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from typing import Any

from setpoint.config.models import ServiceConfig
from setpoint.errors import ApplyFailed
from setpoint.service.base import ExitCallback, Maintenance
from setpoint.service.signals import ExitListeners, alive

log = logging.getLogger(__name__)


class SystemdUnit:
    """A unit whose MainPID is watched through a pidfd and restarted by systemctl."""

    def __init__(self, name: str, config: ServiceConfig, systemctl: str = "systemctl") -> None:
        self.name = name
        self.unit = config.systemd or ""
        self.config = config
        self.systemctl = systemctl
        self.maintenance = Maintenance()
        self._pid: int | None = None
        self._listeners = ExitListeners(self.maintenance, lambda pid: None)
        self.starts = 0

    async def _run(self, *args: str) -> str:
        argv = [self.systemctl, *args]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            out, err = await asyncio.wait_for(proc.communicate(), self.config.verify_timeout)
        except OSError as exc:
            raise ApplyFailed(f"cannot run {self.systemctl}: {exc.strerror}") from exc
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise ApplyFailed(f"{' '.join(argv)} did not finish in time") from exc
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip()[-200:]
            raise ApplyFailed(f"{' '.join(argv)} exited {proc.returncode}: {detail}")
        return out.decode(errors="replace").strip()

    async def refresh(self) -> int | None:
        """Ask systemd for the unit's MainPID and watch it."""
        value = await self._run("show", "--property=MainPID", "--value", self.unit)
        pid = int(value) if value.isdigit() and int(value) > 0 else None
        if pid != self._pid:
            self._pid = pid
            self._listeners.watch(pid)
        return pid

    def pid(self) -> int | None:
        """The MainPID last seen, while that process lives."""
        return self._pid if self._pid is not None and alive(self._pid) else None

    def on_exit(self, callback: ExitCallback) -> None:
        """Call ``callback`` when the unit's main process exits."""
        self._listeners.add(callback)

    async def start(self) -> None:
        """``systemctl start UNIT``, then learn the new MainPID."""
        await self._run("start", self.unit)
        self.starts += 1
        await self.refresh()

    async def stop(self) -> None:
        """``systemctl stop UNIT`` (systemd sends SIGTERM, SIGCONT and later SIGKILL)."""
        await self._run("stop", self.unit)

    def close(self) -> None:
        """Stop listening for the exit (releases the pidfd)."""
        self._listeners.close()

    def describe(self) -> dict[str, Any]:
        """Kind, unit and MainPID."""
        return {"kind": "systemd", "unit": self.unit, "pid": self._pid}
