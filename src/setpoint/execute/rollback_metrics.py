"""The :class:`~setpoint.execute.rollback.TargetMetrics` of a configured service.

Measured fresh, not read from the last tick, so "before" is right before the action
and "after" is right after the window: the main process's CPU over a short interval
and its RSS, then a few probe checks (pass rate and median latency).
"""

from __future__ import annotations

import asyncio
import statistics

import psutil

from setpoint.execute.base import ActionContext


def _process(pid: int, interval: float) -> dict[str, float]:
    try:
        process = psutil.Process(pid)
        cpu = process.cpu_percent(interval=interval)
        return {"cpu_percent": cpu, "rss_bytes": float(process.memory_info().rss)}
    except psutil.Error:
        return {}


class ServiceMetrics:
    """Probe pass rate and p50 latency, CPU and RSS of a service's main process.

    Targets that are not services measure as empty: nothing to compare, no rollback
    on harm (a failed verification still rolls back).
    """

    def __init__(self, probes: int = 5, cpu_interval: float = 0.5) -> None:
        self.probes = probes
        self.cpu_interval = cpu_interval

    async def measure(self, ctx: ActionContext) -> dict[str, float]:
        """Measure the process's CPU and RSS, then probe ``probes`` times.

        CPU comes first, so the probes' own load is not counted as the service's.
        """
        watch = ctx.service
        if watch is None:
            return {}
        pid = watch.handle.pid()
        found: dict[str, float] = {}
        if pid is not None:
            loop = asyncio.get_running_loop()
            found.update(await loop.run_in_executor(None, _process, pid, self.cpu_interval))
        if watch.probe is not None:
            results = [await watch.probe.check() for _ in range(self.probes)]
            passed = [r.latency for r in results if r.ok]
            found["probe_ok"] = len(passed) / len(results)
            if passed:
                found["latency_p50_s"] = statistics.median(passed)
        return found
