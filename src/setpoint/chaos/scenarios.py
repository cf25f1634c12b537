"""The faults ``setpoint chaos`` injects, one scenario each, in the order they run.

A scenario names the entity whose decisions count as its detection and injects its
fault into a running :class:`~setpoint.chaos.victims.Lab`. The fault it returns says
when it is healed (judged from outside, never from setpoint's own verdict), reports
damage beyond its target, and undoes whatever it left behind; a predictive fault also
says how long before the failure setpoint acted. A harmless fault (a CPU burst, a file
written and removed again) is a scenario too: setpoint passes it by doing nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import httpx

from setpoint.chaos.cage import is_victim
from setpoint.chaos.leak import leak
from setpoint.chaos.spool import (
    BURST_HOLD_S,
    BURST_MIB,
    FILL_MIB_PER_S,
    SpoolBurst,
    SpoolFill,
)
from setpoint.chaos.stores import SLOW_QUERIES, WRITERS, pg_idle, pg_slow, redis_bloat
from setpoint.chaos.victim import LEAK_MIB_PER_S
from setpoint.chaos.victims import KEY_LIMIT, SPOOL_BUDGET_MIB, Lab, set_fault, victim_answer

CPU_BURST_S = 5.0


class Fault(Protocol):
    """An injected fault: whether it is healed, what else it hurt, how to undo it."""

    def healed(self) -> bool:
        """True once the victim works again, as seen from outside."""
        ...

    def damage(self) -> list[str]:
        """Harm done beyond the target (e.g. a bystander's keys gone); empty if none."""
        ...

    def undo(self) -> None:
        """Remove what the fault left behind; safe to call at any point."""
        ...


@runtime_checkable
class Predictive(Protocol):
    """A fault heading for a failure that setpoint must act before."""

    def lead(self, acted_at: float) -> float | None:
        """Seconds from ``acted_at`` to the failure (negative if it came first)."""
        ...


@dataclass(frozen=True)
class Scenario:
    """One fault: its name, the entity it breaks, how, and what setpoint should do.

    Decisions on ``entity`` count as detection; with ``trigger`` set, only those
    taken for that symptom kind. With ``acts`` False the fault is harmless and any
    decision on the entity within ``timeout`` is a failure.
    """

    name: str
    entity: str
    summary: str
    inject: Callable[[Lab], Fault]
    trigger: str | None = None
    acts: bool = True
    timeout: float = 30.0


class ProcessFault:
    """A victim process broken in place; healed when a new victim process answers."""

    def __init__(self, lab: Lab, pid: int) -> None:
        self.port = lab.names.victim_port
        self.pid = pid

    def healed(self) -> bool:
        """A 200 from the victim port, served by a pid other than the broken one."""
        answer = victim_answer(self.port)
        return answer is not None and answer.get("pid") != self.pid

    def damage(self) -> list[str]:
        """A process fault only harms its own process."""
        return []

    def undo(self) -> None:
        """Let a stopped victim run again and switch its fault off, if setpoint left it."""
        if is_victim(self.pid):
            os.kill(self.pid, signal.SIGCONT)
            with contextlib.suppress(httpx.HTTPError):
                set_fault(self.port, "ok")


def _healthy_victim(lab: Lab) -> int:
    pid = lab.healthy_pid("victim")
    if pid is None or not is_victim(pid):
        raise RuntimeError("the victim is not running healthy")
    return pid


def _signal(sig: signal.Signals) -> Callable[[Lab], Fault]:
    def inject(lab: Lab) -> Fault:
        pid = _healthy_victim(lab)
        os.kill(pid, sig)
        return ProcessFault(lab, pid)

    return inject


def _mode(mode: str) -> Callable[[Lab], Fault]:
    def inject(lab: Lab) -> Fault:
        pid = _healthy_victim(lab)
        set_fault(lab.names.victim_port, mode)
        return ProcessFault(lab, pid)

    return inject


class CpuBurst:
    """The victim spins one CPU for :data:`CPU_BURST_S` and stops by itself."""

    def __init__(self, lab: Lab, pid: int) -> None:
        self.port = lab.names.victim_port
        self.pid = pid
        set_fault(self.port, "burn")
        self._timer = threading.Timer(CPU_BURST_S, self._end)
        self._timer.start()

    def _end(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            set_fault(self.port, "ok")

    def healed(self) -> bool:
        """The burst is over and the same, untouched process answers normally."""
        answer = victim_answer(self.port)
        return answer is not None and answer == {"pid": self.pid, "mode": "ok"}

    def damage(self) -> list[str]:
        """A burst harms nothing."""
        return []

    def undo(self) -> None:
        """End the burst now if it still runs."""
        self._timer.cancel()
        self._end()


def _cpu_burst(lab: Lab) -> Fault:
    return CpuBurst(lab, _healthy_victim(lab))


def _spool_fill(lab: Lab) -> Fault:
    return SpoolFill(lab)


def _spool_burst(lab: Lab) -> Fault:
    return SpoolBurst(lab)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("crash", "service:victim", "kill -9 of the victim", _signal(signal.SIGKILL)),
        Scenario("hang", "service:victim", "SIGSTOP of the victim", _signal(signal.SIGSTOP)),
        Scenario("slow", "service:victim", "the victim answers after 5 s", _mode("slow")),
        Scenario("error", "service:victim", "the victim answers 500", _mode("error")),
        Scenario(
            "pg-idle",
            "service:db-app",
            f"a session idle in transaction, {WRITERS} writers blocked",
            pg_idle,
        ),
        Scenario(
            "pg-slow",
            "service:report-app",
            f"{SLOW_QUERIES} report queries running 2 min, beside quick ones",
            pg_slow,
        ),
        Scenario(
            "redis-bloat",
            "service:cache-app",
            f"{KEY_LIMIT * 2} keys past a {KEY_LIMIT} budget",
            redis_bloat,
        ),
        Scenario(
            "cpu-burst",
            "service:victim",
            f"the victim spins one CPU for {CPU_BURST_S:g} s: no action expected",
            _cpu_burst,
            acts=False,
            timeout=25.0,
        ),
        Scenario(
            "cpu-burn",
            "service:victim",
            "the victim spins one CPU until stopped",
            _mode("burn"),
            trigger="threshold",
            timeout=45.0,
        ),
        Scenario(
            "disk-burst",
            "dir:spool",
            f"a {BURST_MIB} MiB file in the spool, removed after {BURST_HOLD_S:g} s:"
            " no action expected",
            _spool_burst,
            acts=False,
            timeout=25.0,
        ),
        Scenario(
            "disk-fill",
            "dir:spool",
            f"the spool fills at {FILL_MIB_PER_S} MiB/s toward its {SPOOL_BUDGET_MIB} MiB budget",
            _spool_fill,
            trigger="disk.exhaustion_predicted",
            timeout=45.0,
        ),
        Scenario(
            "leak",
            "service:victim",
            f"the victim leaks {LEAK_MIB_PER_S} MiB/s toward its memory limit",
            leak,
            trigger="memory.oom_predicted",
            timeout=60.0,
        ),
    )
}
