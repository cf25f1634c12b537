"""``process.ladder``: the least destructive way to stop a runaway process.

The victim is chosen among the candidates by growth over a short window (RSS slope
or CPU, see :mod:`setpoint.execute.growth`), never by size. Then rung by rung, each
only when the one before did not contain it:

1. ``throttle``: a CPU cap in setpoint's own cgroup (``process.cpu_limit``), then
   growth is measured again;
2. ``terminate``: SIGCONT and SIGTERM, then ``grace`` seconds;
3. ``restart``: for a service, its own careful stop and a start;
4. ``kill``: SIGKILL.

A service whose process was ended is started again. Rollback lifts a throttle; what
was ended cannot be undone.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import nullcontext
from typing import ClassVar, Literal

import psutil
from pydantic import Field

from setpoint.config.durations import Duration
from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification
from setpoint.execute.growth import By, Growth, measure
from setpoint.execute.process import describe
from setpoint.execute.process_cgroup import CgroupParams, ProcessCpuLimit
from setpoint.service.signals import alive, wait_gone

Rung = Literal["throttle", "terminate", "restart", "kill"]
RUNGS: tuple[Rung, ...] = ("throttle", "terminate", "restart", "kill")


class ProcessLadder:
    """Contain the fastest-growing candidate with as little force as works."""

    class Config(CgroupParams):
        """Candidates (``match``, ``pid`` or the service's processes), ranking and rungs."""

        by: By = Field("rss", description="rank by RSS slope or by CPU use")
        min_rss_slope: float = Field(1e6, gt=0, description="bytes/s that count as growing")
        min_cpu: float = Field(50.0, gt=0, description="CPU percent that counts as running away")
        window: Duration = Field(3.0, gt=0, description="how long growth is measured")
        every: Duration = Field(0.25, gt=0, description="sampling interval in the window")
        throttle_percent: float = Field(20.0, gt=0, description="CPU cap of the throttle rung")
        grace: Duration = Field(5.0, gt=0, description="wait after SIGTERM")
        rungs: list[Rung] = Field(default_factory=lambda: list(RUNGS), min_length=1)

    risk: ClassVar[Risk] = Risk.DESTRUCTIVE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self.victim: Growth | None = None
        self.rung: Rung | None = None
        self.ranking: dict[int, Growth] = {}
        self._throttle: ProcessCpuLimit | None = None

    def _threshold(self) -> float:
        return self.config.min_rss_slope if self.config.by == "rss" else self.config.min_cpu

    def _candidates(self, ctx: ActionContext) -> list[int]:
        pids = self.config.pids(ctx, self.config.proc_root)
        if self.config.pid is None and self.config.match is None:
            for pid in list(pids):
                try:
                    pids += [c.pid for c in psutil.Process(pid).children(recursive=True)]
                except psutil.Error:
                    continue
        return pids

    async def choose(self, ctx: ActionContext) -> Growth:
        """Measure every candidate and return the fastest grower above the threshold."""
        cfg = self.config
        self.ranking = await measure(self._candidates(ctx), cfg.window, cfg.every)
        ranked = sorted(self.ranking.values(), key=lambda g: g.rate(cfg.by), reverse=True)
        if not ranked or ranked[0].rate(cfg.by) < self._threshold():
            seen = "; ".join(g.describe() for g in ranked) or "no candidate lived"
            raise PreviewFailed(f"no runaway by {cfg.by} over {cfg.window:g}s: {seen}")
        return ranked[0]

    def _plan(self, ctx: ActionContext) -> list[Rung]:
        return [r for r in self.config.rungs if r != "restart" or ctx.service is not None]

    async def preview(self, ctx: ActionContext) -> str:
        """Name the victim, why it was chosen, and the rungs that may follow."""
        victim = await self.choose(ctx)
        others = [g.describe() for g in self.ranking.values() if g.pid != victim.pid]
        spared = f"; spared {'; '.join(others)}" if others else ""
        return (
            f"victim {describe(victim.pid)} by {self.config.by}: {victim.describe()}{spared}; "
            f"rungs {' -> '.join(self._plan(ctx))} until contained"
        )

    async def _contained(self, rung: Rung, pid: int) -> bool:
        if rung != "throttle":
            return not alive(pid)
        after = await measure([pid], self.config.window, self.config.every)
        return pid not in after or after[pid].rate(self.config.by) < self._threshold()

    async def _climb(self, rung: Rung, ctx: ActionContext, pid: int) -> str:
        cfg = self.config
        if rung == "throttle":
            limit = ProcessCpuLimit.Config(
                pid=pid,
                children=False,
                cgroup_root=cfg.cgroup_root,
                cgroup_version=cfg.cgroup_version,
                proc_root=cfg.proc_root,
                percent=cfg.throttle_percent,
            )
            self._throttle = ProcessCpuLimit(limit)
            return await self._throttle.apply(ctx)
        if rung == "restart":
            assert ctx.service is not None
            handle = ctx.service.handle
            await handle.stop()
            await handle.start()
            return f"restarted {handle.name}: pid {handle.pid()}"
        sig = signal.SIGTERM if rung == "terminate" else signal.SIGKILL
        for step in (signal.SIGCONT, sig):
            try:
                os.kill(pid, step)
            except ProcessLookupError:
                break
            except OSError as exc:
                raise ApplyFailed(f"cannot send {step.name} to pid {pid}: {exc}") from exc
        await wait_gone(pid, cfg.grace if rung == "terminate" else 5.0)
        return f"sent {sig.name} to pid {pid}"

    async def _start_again(self, ctx: ActionContext) -> str:
        if ctx.service is None:
            return ""
        handle = ctx.service.handle
        deadline = time.monotonic() + 5.0
        while handle.pid() is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if handle.pid() is not None:
            return ""
        await handle.start()
        return f"; started {handle.name} again (pid {handle.pid()})"

    async def _lift_throttle(self, ctx: ActionContext) -> None:
        """A throttle that did not contain the victim is not left behind."""
        if self._throttle is not None:
            await self._throttle.rollback(ctx)
            self._throttle = None

    async def apply(self, ctx: ActionContext) -> str:
        """Choose the victim again (things move), then climb until it is contained."""
        try:
            victim = await self.choose(ctx)
        except PreviewFailed as exc:
            raise ApplyFailed(str(exc)) from exc
        self.victim = victim
        steps: list[str] = []
        window = ctx.service.handle.maintenance.window() if ctx.service else nullcontext()
        with window:
            for rung in self._plan(ctx):
                steps.append(await self._climb(rung, ctx, victim.pid))
                if await self._contained(rung, victim.pid):
                    self.rung = rung
                    if rung != "throttle":
                        steps[-1] += await self._start_again(ctx)
                        await self._lift_throttle(ctx)
                    break
        done = f"victim {victim.describe()}: " + "; ".join(steps)
        if self.rung is None:
            raise ApplyFailed(f"{done}; still not contained after every rung")
        return f"{done}; contained by {self.rung}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The victim is gone or no longer growing; a service must be healthy again."""
        if self.victim is None or self.rung is None:
            return Verification(False, "the ladder did not contain a victim")
        pid = self.victim.pid
        ok = await self._contained("throttle", pid)
        detail = f"pid {pid} contained by {self.rung}"
        if ok and ctx.service is not None:
            health = await ctx.service.wait_healthy(ctx.service.config.verify_timeout)
            ok, detail = health.ok, f"{detail}; {ctx.service.handle.name}: {health.detail}"
        return Verification(ok, detail, {"victim": pid, "rung": self.rung, "by": self.config.by})

    async def rollback(self, ctx: ActionContext) -> str:
        """Lift a throttle; an ended process is not brought back (restart is the inverse)."""
        if self._throttle is not None:
            return await self._throttle.rollback(ctx)
        return f"nothing to undo: pid {self.victim.pid if self.victim else '?'} was ended"
