"""``process.renice``: change the scheduling niceness of a process, reversibly.

On Linux niceness belongs to each thread, so every thread of the target process(es)
is set; the value each had before is remembered, and :meth:`ProcessRenice.rollback`
puts each one back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext, Blast, ProcessTarget, Risk, Verification
from setpoint.execute.gate.constraints import Limit


def threads(pid: int, proc_root: Path = Path("/proc")) -> list[int]:
    """The thread ids of ``pid`` (just ``pid`` when its task list cannot be read).

    >>> os.getpid() in threads(os.getpid())
    True
    """
    try:
        return sorted(int(name) for name in os.listdir(proc_root / str(pid) / "task"))
    except OSError:
        return [pid]


def niceness(tid: int) -> int:
    """The niceness of one thread; OSError when it is gone."""
    return os.getpriority(os.PRIO_PROCESS, tid)


class ProcessRenice:
    """Set the niceness (-20 most favoured .. 19 least) of the target's threads."""

    class Config(ProcessTarget):
        """The niceness to set."""

        nice: int = Field(ge=-20, le=19, description="-20 (most CPU) .. 19 (least)")

    risk: ClassVar[Risk] = Risk.SAFE
    blast: ClassVar[Blast] = Blast.PROCESS
    constraints: ClassVar[tuple[Limit, ...]] = (Limit("nice", min=-10),)
    """Favouring a process above -10 could starve the rest of the host."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._before: dict[int, int] = {}

    def _threads(self, ctx: ActionContext) -> dict[int, int]:
        found: dict[int, int] = {}
        for pid in self.config.pids(ctx):
            for tid in threads(pid):
                try:
                    found[tid] = niceness(tid)
                except OSError:
                    continue
        if not found:
            raise PreviewFailed(f"{ctx.entity}: no thread left to renice")
        return found

    async def preview(self, ctx: ActionContext) -> str:
        """Name the threads and the niceness they would go from and to."""
        now = self._threads(ctx)
        was = ", ".join(str(n) for n in sorted(set(now.values())))
        return f"renice {len(now)} thread(s) of {ctx.entity} from {was} to {self.config.nice}"

    async def apply(self, ctx: ActionContext) -> str:
        """Remember each thread's niceness, then set the new one."""
        self._before = self._threads(ctx)
        for tid in self._before:
            try:
                os.setpriority(os.PRIO_PROCESS, tid, self.config.nice)
            except ProcessLookupError:
                continue
            except OSError as exc:
                raise ApplyFailed(f"cannot renice thread {tid}: {exc}") from exc
        return f"reniced {len(self._before)} thread(s) of {ctx.entity} to {self.config.nice}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """Every thread still alive has the new niceness."""
        wrong = {}
        for tid in self._before:
            try:
                value = niceness(tid)
            except OSError:
                continue
            if value != self.config.nice:
                wrong[tid] = value
        ok = not wrong
        detail = f"niceness is {self.config.nice}" if ok else f"threads not reniced: {wrong}"
        return Verification(ok, detail, {"nice": self.config.nice})

    async def rollback(self, ctx: ActionContext) -> str:
        """Give each thread the niceness it had before :meth:`apply`."""
        restored = 0
        for tid, value in self._before.items():
            try:
                os.setpriority(os.PRIO_PROCESS, tid, value)
            except ProcessLookupError:
                continue
            except OSError as exc:
                raise RollbackFailed(f"cannot restore niceness of thread {tid}: {exc}") from exc
            restored += 1
        was = ", ".join(str(n) for n in sorted(set(self._before.values())))
        return f"restored niceness {was} on {restored} thread(s) of {ctx.entity}"
