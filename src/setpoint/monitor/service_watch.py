"""Watch one service and report ``service.down`` and ``service.unhealthy``.

Down is heard from the exit itself (a child's wait, or a pidfd), not found by polling.
Unhealthy is ``failures`` probe failures in a row, or the process seen stopped (state
``T``, e.g. SIGSTOP) on two checks ``state_every`` apart, which catches a frozen
process within a second even when the probe interval is long. While setpoint itself
restarts the service (its maintenance window) nothing is reported.

Every probe the loop runs is also a reading, for the tiers that watch series (entity
``service:NAME``): ``service.probe.latency_ms``, the probe's wall time whether it
passed or not, capped at its timeout (a probe that timed out reads as the timeout), and
``service.probe.error_rate``, the share of the last :data:`ERROR_WINDOW` probes that
failed. A count window, not a time window, so the rate moves in steps of a tenth
whatever the probe interval (50 s of history at the default 5 s). Probes run on their
own schedule, not the tick's: :meth:`ServiceWatch.take_samples` hands each result to
the next tick once, stamped when the probe finished: one probe is one point, never a
stale value repeated every tick (the peripheral and foveal tiers take a series that
skips ticks as it is). A process counts from its first passing probe: the refusals of
a service that is still starting (before it listens), and the probes of a restart's
verification, say how long a start takes, not how well the service serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from setpoint.config.models import ServiceConfig
from setpoint.errors import ActuationError
from setpoint.model import Sample, Severity, Symptom, service_entity
from setpoint.monitor.base import Probe, ProbeResult
from setpoint.service.base import Closeable, ExitInfo, ServiceHandle
from setpoint.service.signals import proc_state

log = logging.getLogger(__name__)

DOWN = "service.down"
UNHEALTHY = "service.unhealthy"
LATENCY = "service.probe.latency_ms"
ERROR_RATE = "service.probe.error_rate"
ERROR_WINDOW = 10
"""Probes the error rate is the failed share of (fewer until that many have run)."""
_STOPPED = ("T", "t")


@runtime_checkable
class Refreshable(Protocol):
    """A handle that must ask something (systemd) to learn its pid."""

    async def refresh(self) -> int | None:
        """Learn the current pid."""
        ...


class ServiceWatch:
    """Health of one service, with the symptoms it fires and clears."""

    def __init__(
        self,
        handle: ServiceHandle,
        config: ServiceConfig,
        probe: Probe | None,
        emit: Callable[[Symptom], None],
        state_every: float = 0.5,
    ) -> None:
        self.handle = handle
        self.config = config
        self.probe = probe
        self.entity = service_entity(handle.name)
        self._emit = emit
        self.state_every = state_every
        self.failures = 0
        self.last_probe: ProbeResult | None = None
        self._outcomes: deque[bool] = deque(maxlen=ERROR_WINDOW)
        self._fresh: list[Sample] = []
        self._passed_pid: int | None = None
        self._firing: dict[str, Symptom] = {}
        self._stopped_seen = 0
        self._refresh_failing = False
        self._tasks: list[asyncio.Task[None]] = []
        handle.on_exit(self._on_exit)

    @property
    def health(self) -> str:
        """``down``, ``unhealthy``, ``healthy`` or ``starting``."""
        if DOWN in self._firing:
            return "down"
        if UNHEALTHY in self._firing:
            return "unhealthy"
        if self.probe is None or (self.last_probe is not None and self.last_probe.ok):
            return "healthy" if self.handle.pid() is not None else "starting"
        return "starting"

    def status(self) -> dict[str, Any]:
        """What ``setpoint status`` shows for this service."""
        last = self.last_probe
        probe = None
        if last is not None:
            probe = f"ok in {last.latency * 1000:.0f} ms" if last.ok else f"failed: {last.detail}"
        return {
            "health": self.health,
            **self.handle.describe(),
            "probe_failures": self.failures,
            "last_probe": probe,
            "firing": sorted(self._firing),
        }

    def take_samples(self) -> list[Sample]:
        """The newest probe's samples, if one ran since the last call: each is handed out once.

        When several probes ran in between (a probe interval shorter than the tick),
        only the newest one's are kept; the error rate still counts all of them.
        """
        fresh, self._fresh = self._fresh, []
        return fresh

    def start(self) -> None:
        """Begin the probe and state loops."""
        self._tasks = [
            asyncio.create_task(self._state_loop(), name=f"state-{self.handle.name}"),
        ]
        if self.probe is not None:
            self._tasks.append(
                asyncio.create_task(self._probe_loop(), name=f"probe-{self.handle.name}")
            )

    async def aclose(self) -> None:
        """Stop watching."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        aclose = getattr(self.probe, "aclose", None)
        if aclose is not None:
            await aclose()
        if isinstance(self.handle, Closeable):
            self.handle.close()

    def _fire(self, kind: str, evidence: dict[str, Any], severity: Severity) -> None:
        if kind in self._firing:
            return
        symptom = Symptom(kind, self.entity, time.time(), severity=severity, evidence=evidence)
        self._firing[kind] = symptom
        log.warning("%s %s: %s", self.entity, kind, evidence.get("reason", ""))
        self._emit(symptom)

    def _clear(self, kind: str, reason: str) -> None:
        firing = self._firing.pop(kind, None)
        if firing is None:
            return
        log.info("%s %s cleared: %s", self.entity, kind, reason)
        self._emit(firing.cleared(time.time(), {"reason": reason}))

    def _on_exit(self, info: ExitInfo) -> None:
        if info.expected or self.handle.maintenance.active:
            return
        self.failures = 0
        self._fire(
            DOWN,
            {"reason": info.describe(), "pid": info.pid, "returncode": info.returncode},
            Severity.CRITICAL,
        )

    def _healthy(self, reason: str) -> None:
        self._clear(DOWN, reason)
        self._clear(UNHEALTHY, reason)

    async def _state_loop(self) -> None:
        """Check the process state letter often: cheap, and catches SIGSTOP fast."""
        # the isinstance check of a runtime protocol is costly: once, not every turn
        refresh = self.handle.refresh if isinstance(self.handle, Refreshable) else None
        while True:
            await asyncio.sleep(self.state_every)
            if self.handle.maintenance.active:
                self._stopped_seen = 0
                continue
            if refresh is not None:
                try:
                    await refresh()
                except ActuationError as exc:  # no answer is not a verdict: skip this check
                    if not self._refresh_failing:
                        log.warning("%s: cannot learn its pid: %s", self.entity, exc)
                    self._refresh_failing = True
                    continue
                if self._refresh_failing:
                    log.info("%s: its pid can be learned again", self.entity)
                    self._refresh_failing = False
            self._check_state()

    def _check_state(self) -> None:
        pid = self.handle.pid()
        if pid is None:
            self._fire(DOWN, {"reason": "process is not running"}, Severity.CRITICAL)
            return
        state = proc_state(pid)
        if state in _STOPPED:
            self._stopped_seen += 1
            if self._stopped_seen >= 2:
                reason = f"pid {pid} is stopped (state {state}), e.g. by SIGSTOP"
                self._fire(
                    UNHEALTHY, {"reason": reason, "pid": pid, "state": state}, Severity.CRITICAL
                )
            return
        self._stopped_seen = 0
        if self.probe is None:
            self._healthy(f"pid {pid} is running")

    async def _probe_loop(self) -> None:
        assert self.probe is not None
        interval = self.config.probe.interval if self.config.probe else 5.0
        while True:
            started = time.monotonic()
            if not self.handle.maintenance.active and self.handle.pid() is not None:
                await self._probe_once()
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def _probe_once(self) -> None:
        assert self.probe is not None
        pid = self.handle.pid()
        result = await self.probe.check()
        if self.handle.maintenance.active:
            return
        self.last_probe = result
        self._record(result, pid)
        if result.ok:
            self.failures = 0
            self._healthy(f"probe passed in {result.latency * 1000:.0f} ms")
            return
        self.failures += 1
        needed = self.config.probe.failures if self.config.probe else 1
        if self.failures >= needed:
            reason = f"{self.failures} probe failures in a row: {result.detail}"
            self._fire(
                UNHEALTHY,
                {"reason": reason, "probe": result.detail, "failures": self.failures},
                Severity.WARNING,
            )

    def _record(self, result: ProbeResult, pid: int | None) -> None:
        """Turn one probe of the loop into its latency and error-rate samples.

        A failure of a process that has not passed a probe yet is not one: it is starting.
        """
        if result.ok:
            self._passed_pid = pid
        elif pid != self._passed_pid:
            return
        self._outcomes.append(result.ok)
        timeout = self.config.probe.timeout if self.config.probe else result.latency
        failed = self._outcomes.count(False) / len(self._outcomes)
        ts = time.time()
        self._fresh = [
            Sample(LATENCY, min(result.latency, timeout) * 1000.0, ts, self.entity),
            Sample(ERROR_RATE, failed, ts, self.entity),
        ]

    async def wait_healthy(
        self, timeout: float, settle: float = 1.0, every: float = 0.05
    ) -> ProbeResult:
        """Check until the service passes or ``timeout`` runs out (for verification).

        With a probe, one passing probe is enough; without one, the process must stay
        up for ``settle`` seconds, so a command that exits at once does not pass. A
        process that exits while being verified fails it at once.
        """
        started = time.monotonic()
        deadline = started + timeout
        up_since: float | None = None
        seen: int | None = None
        result = ProbeResult(False, 0.0, "not checked")
        while time.monotonic() < deadline:
            pid = self.handle.pid()
            if pid is None and seen is not None:
                return ProbeResult(
                    False, time.monotonic() - started, f"pid {seen} exited during verification"
                )
            seen = pid or seen
            if pid is None or proc_state(pid) in _STOPPED:
                up_since = None
                why = "is not running" if pid is None else f"(pid {pid}) is stopped"
                result = ProbeResult(False, 0.0, f"process {why}")
            elif self.probe is None:
                up_since = up_since or time.monotonic()
                if time.monotonic() - up_since >= settle:
                    result = ProbeResult(
                        True, time.monotonic() - started, f"pid {pid} stayed up {settle:g}s"
                    )
                    self._healthy(result.detail)
                    return result
            else:
                result = await self.probe.check()
                if result.ok:
                    self.last_probe, self.failures, self._passed_pid = result, 0, pid
                    result = ProbeResult(
                        True, result.latency, f"probe passed in {result.latency * 1000:.0f} ms"
                    )
                    self._healthy(result.detail)
                    return result
            await asyncio.sleep(every)
        return result
