"""Stopping a process the careful way, and hearing that a non-child exited.

Both supervised children and processes found by pid file or cmdline are stopped the
same way: SIGCONT (a stopped process cannot handle SIGTERM), SIGTERM, a grace
period, then SIGKILL. Exits of processes that are not our children are heard through
a pidfd, so no polling is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from setpoint.service.base import ExitCallback, ExitInfo, Maintenance

log = logging.getLogger(__name__)


def proc_state(pid: int, proc_root: Path = Path("/proc")) -> str | None:
    """The kernel's state letter of ``pid`` (R, S, D, T, t, Z, ...), None when gone.

    >>> proc_state(os.getpid()) in ("R", "S")
    True
    """
    try:
        with open(proc_root / str(pid) / "stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    end = stat.rindex(b")")  # the command name may itself hold spaces and ")"
    return stat[end + 2 : end + 3].decode()


def alive(pid: int) -> bool:
    """True when a process with this id exists and is not a zombie.

    >>> alive(os.getpid())
    True
    """
    return proc_state(pid) not in (None, "Z", "X")


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


async def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited (or is a zombie); False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        if not alive(pid):
            return True
        await asyncio.wait_for(done, timeout)
        return True
    except TimeoutError:
        return not alive(pid)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def terminate(
    pid: int,
    grace: float,
    group: bool = False,
    wait: Callable[[float], Awaitable[bool]] | None = None,
) -> str:
    """SIGCONT, SIGTERM, wait ``grace`` seconds, then SIGKILL; return what it took.

    ``group`` signals the whole process group led by ``pid``. ``wait(timeout)`` waits
    for the exit (a child's own wait); by default a pidfd is used.
    """
    waiter = wait or functools.partial(wait_gone, pid)
    _signal(pid, signal.SIGCONT, group)
    _signal(pid, signal.SIGTERM, group)
    if await waiter(grace):
        return "SIGTERM"
    log.warning("pid %d did not stop within %.1fs of SIGTERM; sending SIGKILL", pid, grace)
    _signal(pid, signal.SIGKILL, group)
    if await waiter(5.0):
        return "SIGKILL"
    return "unkillable"


class ExitWatch:
    """Calls back once when a process that is not our child exits (pidfd)."""

    def __init__(self, pid: int, callback: Callable[[], None]) -> None:
        self.pid = pid
        self._callback = callback
        self._fd: int | None = None

    def arm(self) -> bool:
        """Start watching; False when the process is already gone."""
        try:
            self._fd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return False
        asyncio.get_running_loop().add_reader(self._fd, self._fire)
        return True

    def _fire(self) -> None:
        self.disarm()
        self._callback()

    def disarm(self) -> None:
        """Stop watching and release the pidfd."""
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None


class ExitListeners:
    """The callbacks that hear a non-child's exit, and the one pidfd watch that tells them.

    Handles of processes setpoint did not start (found by pid file or cmdline, or a
    systemd unit's MainPID) share it: ``watch(pid)`` moves the watch to a new pid, and
    the exit is reported once, as expected when the handle's maintenance window is open.
    """

    def __init__(self, maintenance: Maintenance, on_gone: Callable[[int], None]) -> None:
        self._maintenance = maintenance
        self._on_gone = on_gone
        self._callbacks: list[ExitCallback] = []
        self._watch: ExitWatch | None = None

    @property
    def pid(self) -> int | None:
        """The pid being watched, if any."""
        return self._watch.pid if self._watch is not None else None

    def add(self, callback: ExitCallback) -> None:
        """Call ``callback`` with every exit heard from now on."""
        self._callbacks.append(callback)

    def watch(self, pid: int | None) -> None:
        """Watch ``pid`` instead of whatever was watched (None: watch nothing)."""
        self.close()
        if pid is not None:
            watch = ExitWatch(pid, lambda: self._exited(pid))
            self._watch = watch if watch.arm() else None

    def _exited(self, pid: int) -> None:
        self._watch = None
        self._on_gone(pid)
        info = ExitInfo(pid, None, expected=self._maintenance.active)
        for callback in list(self._callbacks):
            callback(info)

    def close(self) -> None:
        """Stop watching and release the pidfd."""
        if self._watch is not None:
            self._watch.disarm()
            self._watch = None
