"""How fast processes grow: RSS slope and CPU use over a short window of psutil samples.

A runaway is the process that is *growing*, not the biggest one: a large cache that
holds steady is working as designed. So victims are ranked by the least-squares
slope of their RSS (bytes per second) or by the CPU they burnt in the window.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

import psutil

By = Literal["rss", "cpu"]


@dataclass(frozen=True)
class Growth:
    """One process over the window: its RSS slope, CPU use and (for the record) size."""

    pid: int
    rss_slope: float
    cpu_percent: float
    rss: int

    def rate(self, by: By) -> float:
        """The growth measure the ranking uses."""
        return self.rss_slope if by == "rss" else self.cpu_percent

    def describe(self) -> str:
        """``pid 7: RSS +12.0 MB/s (now 80 MB), CPU 95%``.

        >>> Growth(7, 12e6, 95.0, 80_000_000).describe()
        'pid 7: RSS +12.0 MB/s (now 80 MB), CPU 95%'
        """
        return (
            f"pid {self.pid}: RSS {self.rss_slope / 1e6:+.1f} MB/s (now {self.rss / 1e6:.0f} MB), "
            f"CPU {self.cpu_percent:.0f}%"
        )


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(t, y)`` points; 0 with fewer than two distinct times.

    >>> slope([(0, 10), (1, 12), (2, 14)])
    2.0
    >>> slope([(0, 5)])
    0.0
    """
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mt) * (y - my) for t, y in points) / var


def _read(proc: psutil.Process) -> tuple[float, int]:
    with proc.oneshot():
        cpu = proc.cpu_times()
        return cpu.user + cpu.system, proc.memory_info().rss


async def measure(pids: list[int], window: float, every: float) -> dict[int, Growth]:
    """Sample each pid every ``every`` seconds for ``window`` seconds.

    A process that exits during the window is left out of the answer.
    """
    procs = {}
    for pid in pids:
        try:
            procs[pid] = psutil.Process(pid)
        except psutil.Error:
            continue
    rss: dict[int, list[tuple[float, float]]] = {pid: [] for pid in procs}
    cpu_first: dict[int, tuple[float, float]] = {}
    cpu_last: dict[int, tuple[float, float]] = {}
    started = time.monotonic()
    while True:
        now = time.monotonic()
        for pid, proc in list(procs.items()):
            try:
                cpu, size = _read(proc)
            except psutil.Error:
                del procs[pid]
                continue
            rss[pid].append((now - started, float(size)))
            cpu_first.setdefault(pid, (now, cpu))
            cpu_last[pid] = (now, cpu)
        if now - started >= window or not procs:
            break
        await asyncio.sleep(every)
    result = {}
    for pid in procs:
        (t0, c0), (t1, c1) = cpu_first[pid], cpu_last[pid]
        busy = 100.0 * (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0
        result[pid] = Growth(pid, slope(rss[pid]), busy, int(rss[pid][-1][1]))
    return result
