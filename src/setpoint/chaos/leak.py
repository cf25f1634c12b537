"""The ``leak`` scenario: the victim leaks toward its memory limit, beside a bigger bystander.

The victim holds :data:`~setpoint.chaos.victim.LEAK_MIB_PER_S` more MiB every second
inside the run's :class:`~setpoint.chaos.cage.MemoryCage`, which the bystander (steady,
and bigger at the start) shares. setpoint must predict the OOM kill and restart the
victim before it comes. The usage counted against the limit is read from outside every
time the runner looks; the failure is the kernel's OOM kill in the cage or the limit
reached. Healed means a new victim process answers and the usage is back to what it
was before the leak.
"""

from __future__ import annotations

import contextlib
import time

import httpx

from setpoint.chaos.cage import MIB
from setpoint.chaos.lead import Approach
from setpoint.chaos.victims import Lab, set_fault, victim_answer

SLACK = 32 * MIB
"""Usage above the pre-leak level that still counts as back to normal."""


class MemoryLeak:
    """A leaking victim; the usage against its limit on the way, and the failure if any."""

    def __init__(self, lab: Lab, pid: int) -> None:
        if lab.cage is None:
            raise RuntimeError("the lab has no memory cage")
        self.cage = lab.cage
        self.port = lab.names.victim_port
        self.pid = pid
        start = self.cage.reading(pid)
        if start is None:
            raise RuntimeError(f"cannot read the memory limit of victim pid {pid}")
        self.baseline = start.used
        self.approach = Approach(start.limit)
        self.kills = self.cage.oom_kills()
        set_fault(self.port, "leak")

    def _watch(self) -> None:
        """Record the usage while the leaking process lives, and any OOM kill."""
        now = time.time()
        if self.cage.oom_kills() > self.kills:
            self.approach.fail(now)
        reading = self.cage.reading(self.pid)
        if reading is not None:
            self.approach.add(now, reading.used)

    def healed(self) -> bool:
        """A new victim answers, usage is back near its pre-leak level, and nothing failed."""
        self._watch()
        if self.approach.failed_at is not None:
            return False
        answer = victim_answer(self.port)
        if answer is None or answer.get("pid") == self.pid:
            return False
        now = self.cage.reading(int(answer["pid"]))
        return now is not None and now.used <= self.baseline + SLACK

    def lead(self, acted_at: float) -> float | None:
        """Seconds from setpoint's action to the OOM kill (measured or extrapolated)."""
        return self.approach.lead(acted_at)

    def damage(self) -> list[str]:
        """The bystander is checked by the runner; the leak harms nothing else."""
        return []

    def undo(self) -> None:
        """Stop the leak and drop the leaked memory if the leaking victim still runs."""
        answer = victim_answer(self.port)
        if answer is not None and answer.get("pid") == self.pid:
            with contextlib.suppress(httpx.HTTPError):
                set_fault(self.port, "ok")


def leak(lab: Lab) -> MemoryLeak:
    """Make the healthy victim leak."""
    pid = lab.healthy_pid("victim")
    if pid is None:
        raise RuntimeError("the victim is not running healthy")
    return MemoryLeak(lab, pid)
