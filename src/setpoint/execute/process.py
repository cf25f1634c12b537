"""Process actuators without cgroups: ``process.signal`` and ``process.affinity``.

The target is the service's main process, or the ``pid``/``match`` in the params
(:class:`~setpoint.execute.base.ProcessTarget`). Signals go by name through
``os.kill``; affinity through ``os.sched_setaffinity``, remembered for rollback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import ClassVar, Literal

import psutil
from pydantic import Field, field_validator

from setpoint.config.durations import Duration
from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext, Blast, ProcessTarget, Risk, Verification
from setpoint.service.signals import alive, proc_state

Effect = Literal["exit", "stopped", "running", "delivered"]
_EFFECTS: dict[signal.Signals, Effect] = {
    signal.SIGKILL: "exit",
    signal.SIGTERM: "exit",
    signal.SIGINT: "exit",
    signal.SIGQUIT: "exit",
    signal.SIGSTOP: "stopped",
    signal.SIGTSTP: "stopped",
    signal.SIGCONT: "running",
}


def describe(pid: int) -> str:
    """``pid 12 (cmdline)``, for previews; the cmdline is shortened.

    >>> describe(os.getpid()).startswith(f"pid {os.getpid()} (")
    True
    """
    try:
        cmd = " ".join(psutil.Process(pid).cmdline()).replace("\n", " ") or "?"
    except psutil.Error:
        cmd = "gone"
    return f"pid {pid} ({cmd[:80]})"


def signal_by_name(name: str) -> signal.Signals:
    """A signal from ``TERM``, ``SIGTERM`` or ``15``.

    >>> signal_by_name("hup").name
    'SIGHUP'
    """
    text = name.strip().upper()
    try:
        return (
            signal.Signals(int(text))
            if text.isdigit()
            else signal.Signals[text if text.startswith("SIG") else f"SIG{text}"]
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a signal name") from exc


class ProcessSignal:
    """Send one signal, by name, to the target process(es).

    Verification follows the signal: terminating signals must end the process
    within ``verify_timeout``, SIGSTOP must leave it stopped, SIGCONT running; any
    other signal is verified as delivered.
    """

    class Config(ProcessTarget):
        """Which signal, to which process."""

        signal: str = Field("SIGTERM", description="name (TERM, SIGHUP) or number")
        verify_timeout: Duration = Field(5.0, gt=0)

        @field_validator("signal")
        @classmethod
        def _known(cls, value: str) -> str:
            return signal_by_name(value).name

    risk: ClassVar[Risk] = Risk.DESTRUCTIVE
    blast: ClassVar[Blast] = Blast.PROCESS

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self._sent: list[int] = []

    @property
    def _signal(self) -> signal.Signals:
        return signal_by_name(self.config.signal)

    async def preview(self, ctx: ActionContext) -> str:
        """Name the signal and each process it would reach."""
        pids = self.config.pids(ctx)
        return f"send {self._signal.name} to " + ", ".join(describe(p) for p in pids)

    async def apply(self, ctx: ActionContext) -> str:
        """Send the signal to each target process."""
        try:
            pids = self.config.pids(ctx)
        except PreviewFailed as exc:
            raise ApplyFailed(str(exc)) from exc
        for pid in pids:
            try:
                os.kill(pid, self._signal)
            except OSError as exc:
                raise ApplyFailed(f"cannot send {self._signal.name} to pid {pid}: {exc}") from exc
            self._sent.append(pid)
        return f"sent {self._signal.name} to pid " + ", ".join(map(str, pids))

    def _has_effect(self, pid: int, effect: Effect) -> bool:
        state = proc_state(pid)
        if effect == "exit":
            return not alive(pid)
        if effect == "stopped":
            return state in ("T", "t")
        if effect == "running":
            return state not in (None, "T", "t", "Z", "X")
        return True

    async def verify(self, ctx: ActionContext) -> Verification:
        """Wait (bounded) until every signalled process shows the signal's effect."""
        effect = _EFFECTS.get(self._signal, "delivered")
        deadline = time.monotonic() + self.config.verify_timeout
        pending = list(self._sent)
        while True:
            pending = [p for p in pending if not self._has_effect(p, effect)]
            if not pending or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)
        ok = bool(self._sent) and not pending
        detail = (
            f"{self._signal.name}: pid {', '.join(map(str, self._sent))} {effect}"
            if ok
            else f"{self._signal.name}: pid {', '.join(map(str, pending or self._sent))} "
            f"not {effect} after {self.config.verify_timeout:g}s"
        )
        return Verification(ok, detail, {"signal": self._signal.name, "pending": pending})


class ProcessAffinity:
    """Pin the target process(es) to a set of CPUs; rollback restores each old set."""

    class Config(ProcessTarget):
        """Which CPUs, for which process."""

        cpus: list[int] = Field(min_length=1, description="CPU numbers, e.g. [0, 1]")

        @field_validator("cpus")
        @classmethod
        def _non_negative(cls, value: list[int]) -> list[int]:
            if any(c < 0 for c in value):
                raise ValueError("CPU numbers are 0 or more")
            return sorted(set(value))

    risk: ClassVar[Risk] = Risk.SAFE
    blast: ClassVar[Blast] = Blast.PROCESS

    def __init__(self, config: Config) -> None:
        self.config = config
        self._before: dict[int, set[int]] = {}

    def _check_cpus(self) -> None:
        usable = os.sched_getaffinity(0)
        missing = set(self.config.cpus) - usable
        if missing:
            raise PreviewFailed(f"CPU {sorted(missing)} not available (usable: {sorted(usable)})")

    async def preview(self, ctx: ActionContext) -> str:
        """Show each target's current CPU set and the one it would get."""
        self._check_cpus()
        parts = []
        for pid in self.config.pids(ctx):
            try:
                now = sorted(os.sched_getaffinity(pid))
            except OSError as exc:
                raise PreviewFailed(f"cannot read affinity of pid {pid}: {exc}") from exc
            parts.append(f"{describe(pid)} CPUs {now} -> {self.config.cpus}")
        return "set CPU affinity: " + "; ".join(parts)

    async def apply(self, ctx: ActionContext) -> str:
        """Remember each old CPU set, then set the new one."""
        try:
            self._check_cpus()
            pids = self.config.pids(ctx)
        except PreviewFailed as exc:
            raise ApplyFailed(str(exc)) from exc
        for pid in pids:
            try:
                self._before[pid] = os.sched_getaffinity(pid)
                os.sched_setaffinity(pid, self.config.cpus)
            except OSError as exc:
                raise ApplyFailed(f"cannot set affinity of pid {pid}: {exc}") from exc
        return f"pinned pid {', '.join(map(str, pids))} to CPUs {self.config.cpus}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """Each changed process now runs on exactly the requested CPUs."""
        wrong = {}
        for pid in self._before:
            try:
                now = sorted(os.sched_getaffinity(pid))
            except OSError:
                now = []
            if now != self.config.cpus:
                wrong[pid] = now
        ok = bool(self._before) and not wrong
        detail = f"CPUs {self.config.cpus} set" if ok else f"affinity differs: {wrong}"
        return Verification(ok, detail, {"cpus": self.config.cpus})

    async def rollback(self, ctx: ActionContext) -> str:
        """Give each process its old CPU set back (a process that has exited is skipped)."""
        restored = []
        for pid, cpus in self._before.items():
            if not alive(pid):
                continue
            try:
                os.sched_setaffinity(pid, cpus)
            except ProcessLookupError:
                continue
            except OSError as exc:
                raise RollbackFailed(f"cannot restore affinity of pid {pid}: {exc}") from exc
            restored.append(f"pid {pid} CPUs {sorted(cpus)}")
        return "restored " + (", ".join(restored) or "nothing (the processes have exited)")
