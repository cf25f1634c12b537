"""The agent: wires monitor, analyze, plan, execute and knowledge into one loop.

This is the only module that knows every stage. One asyncio loop runs the tick
(sensors -> detectors -> incidents), the service watches, remediations and the HTTP
API; blocking work (procfs, SQLite) runs on executor threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from setpoint.analyze.anomaly import AnomalyWatch
from setpoint.analyze.base import Detector
from setpoint.analyze.incidents import IncidentTracker
from setpoint.clock import SystemClock
from setpoint.config.models import Config, ServiceConfig
from setpoint.events.base import INCIDENTS, SYMPTOMS
from setpoint.events.memory import MemoryBus
from setpoint.execute.base import ActionContext
from setpoint.execute.executor import Executor, RunResult
from setpoint.execute.gate import SafetyGate
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.writer import StoreWriter
from setpoint.metrics import AgentMetrics
from setpoint.model import (
    GateMode,
    Incident,
    Sample,
    Symptom,
    SymptomState,
)
from setpoint.monitor.base import Sensor
from setpoint.monitor.host import HostSensor
from setpoint.monitor.probes import probe_from_config
from setpoint.monitor.process import ProcessSampler
from setpoint.monitor.scheduler import SensorScheduler
from setpoint.monitor.service_watch import ServiceWatch
from setpoint.plan.playbooks import PlaybookPlanner
from setpoint.plugins import Registry
from setpoint.service.base import ServiceHandle
from setpoint.service.children import ChildLedger
from setpoint.service.external import ExternalProcess
from setpoint.service.supervised import SupervisedProcess
from setpoint.service.systemd import SystemdUnit

log = logging.getLogger(__name__)

_PURGE_EVERY = 3600.0


def build_handle(
    name: str, config: ServiceConfig, data_dir: Path, ledger: ChildLedger
) -> ServiceHandle:
    """The right kind of handle for how the service is configured."""
    if config.command:
        return SupervisedProcess(name, config, data_dir / "services", ledger)
    if config.systemd:
        return SystemdUnit(name, config)
    return ExternalProcess(name, config)


class Agent:
    """One setpoint agent on one machine."""

    def __init__(
        self,
        config: Config,
        store: KnowledgeStore,
        data_dir: Path,
        actuators: Registry[Any],
        detectors: Registry[Any],
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.clock = SystemClock()
        self.bus = MemoryBus()
        self.metrics = AgentMetrics()
        self.writer = StoreWriter(store)
        self.store = store
        self._sensor_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sensors")
        sensors: list[Sensor] = [HostSensor()] if config.sensors.host else []
        self.scheduler = SensorScheduler(sensors, self._sensor_pool)
        detector_cls = detectors.get(config.detector.type)
        detector_config = detectors.config_for(config.detector.type, config.detector.params)

        def make_detector() -> Detector:
            detector: Detector = detector_cls(detector_config)
            return detector

        self.anomalies = AnomalyWatch(make_detector)
        self.incidents = IncidentTracker(config.incidents.resolve_after)
        self.ledger = ChildLedger(data_dir / "children.json")
        self.watches: dict[str, ServiceWatch] = {}
        self._samplers: dict[str, ProcessSampler] = {}
        for name, svc in config.services.items():
            handle = build_handle(name, svc, data_dir, self.ledger)
            probe = probe_from_config(svc.probe) if svc.probe else None
            self.watches[name] = ServiceWatch(handle, svc, probe, self._emit)
            self._samplers[name] = ProcessSampler(name)
        self.gate = SafetyGate(config.mode, config.gate, self.clock)
        self.planner = PlaybookPlanner(config.playbooks)
        self.executor = Executor(
            self.gate,
            self.bus,
            actuators,
            self.writer,
            self._context_for,
            self._still_firing,
            self._escalate,
            config.operational_mode,
        )
        self._firing: dict[str, Symptom] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self.started_at = time.time()
        self.ticks = 0
        self.last_tick_at: float | None = None
        self.last_tick_seconds = 0.0
        self._last_stored = 0.0
        self._last_purge = 0.0
        self._pending_samples: dict[str, Sample] = {}
        self.bus.subscribe(SYMPTOMS, self._on_symptom)

    @property
    def mode(self) -> GateMode:
        """The gate mode the agent runs in."""
        return self.gate.mode

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _emit(self, symptom: Symptom) -> None:
        self._spawn(self.bus.publish(SYMPTOMS, symptom), f"symptom-{symptom.kind}")

    def _context_for(self, entity: str) -> ActionContext:
        name = entity.removeprefix("service:") if entity.startswith("service:") else None
        return ActionContext(entity, self.watches.get(name) if name else None)

    def _still_firing(self, symptom: Symptom) -> bool:
        return symptom.id in self._firing

    def _escalate(self, symptom: Symptom, reason: str) -> None:
        incident = self.incidents.escalate(symptom.entity, reason)
        log.error("escalated %s: %s", symptom.entity, reason)
        if incident is not None:
            self._save_incident(incident)

    def _save_incident(self, incident: Incident) -> None:
        self.writer.submit(self.store.incidents.save, incident)
        self._spawn(self.bus.publish(INCIDENTS, incident), "incident")

    async def _on_symptom(self, symptom: Symptom) -> None:
        self.metrics.symptoms.labels(symptom.kind, symptom.state.value).inc()
        incident = self.incidents.on_symptom(symptom)
        if incident is not None:
            symptom = replace(symptom, incident_id=incident.id)
            self._save_incident(incident)
        self.writer.submit(self.store.symptoms.record, symptom)
        if symptom.state is SymptomState.CLEARED:
            self._firing.pop(symptom.clears or "", None)
            return
        self._firing[symptom.id] = symptom
        for proposals in self.planner.plan(symptom):
            self._spawn(self._remediate(proposals, symptom, incident), "remediate")

    async def _remediate(self, proposals: Any, symptom: Symptom, incident: Incident | None) -> None:
        """Fix first, escalate if it did not work: retry while the symptom stands.

        Each try passes the gate again, so the budget ends a loop with an escalation.
        """
        incident_id = incident.id if incident else None
        while (await self.executor.run(proposals, incident_id)) is RunResult.FAILED:
            if not self._still_firing(symptom):
                return

    def status(self) -> dict[str, Any]:
        """Loop health, sensors, services and open incidents, for ``GET /status``."""
        now = time.time()
        stale_after = 3 * self.config.interval + 5.0
        loop_ok = self.last_tick_at is not None and now - self.last_tick_at < stale_after
        return {
            "loop_ok": loop_ok,
            "mode": self.mode.value,
            "started_at": self.started_at,
            "uptime_s": round(now - self.started_at, 1),
            "interval_s": self.config.interval,
            "ticks": self.ticks,
            "last_tick_at": self.last_tick_at,
            "last_tick_ms": round(self.last_tick_seconds * 1000, 3),
            "series": len(self.anomalies),
            "sensors": {
                name: {"up": h.up, "since": h.since, "last_error": h.last_error}
                for name, h in self.scheduler.health().items()
            },
            "services": {name: w.status() for name, w in self.watches.items()},
            "open_incidents": [
                {
                    "id": i.id,
                    "entity": i.entity,
                    "status": i.status.value,
                    "kinds": list(i.kinds),
                    "opened_at": i.opened_at,
                }
                for i in self.incidents.open_incidents()
            ],
            "decisions": dict(self.executor.counts),
            "store_write_failures": self.writer.failures,
        }

    async def tick(self) -> None:
        """One pass: read, detect, resolve quiet incidents, store."""
        started = time.perf_counter()
        samples = await self.scheduler.poll()
        for name, watch in self.watches.items():
            pid = watch.handle.pid()
            if pid is not None:
                with contextlib.suppress(Exception):
                    samples += self._samplers[name].sample(pid)
        self.metrics.series.update(samples)
        for symptom in self.anomalies.observe(samples):
            await self.bus.publish(SYMPTOMS, symptom)
        now = time.time()
        for incident in self.incidents.tick(now):
            self._save_incident(incident)
        self._store_samples(samples, now)
        self._update_metrics()
        self.ticks += 1
        self.last_tick_at = now
        self.last_tick_seconds = time.perf_counter() - started
        self.metrics.ticks.inc()
        self.metrics.tick_seconds.observe(self.last_tick_seconds)

    def _store_samples(self, samples: list[Sample], now: float) -> None:
        """Keep samples at ``knowledge.sample_every`` resolution; purge past retention."""
        for sample in samples:
            self._pending_samples[sample.key] = sample
        if now - self._last_stored >= self.config.knowledge.sample_every:
            self._last_stored = now
            batch, self._pending_samples = list(self._pending_samples.values()), {}
            self.writer.submit(self.store.samples.append, batch)
        if now - self._last_purge >= _PURGE_EVERY:
            self._last_purge = now
            retention = self.config.knowledge.retention
            self.writer.submit(self.store.samples.purge, now - retention.samples)
            self.writer.submit(self.store.audit.purge, now - retention.audit)

    def _update_metrics(self) -> None:
        m = self.metrics
        for name, health in self.scheduler.health().items():
            m.sensor_up.labels(name).set(1 if health.up else 0)
        for name, watch in self.watches.items():
            m.service_up.labels(name).set(1 if watch.health == "healthy" else 0)
        m.incidents_open.set(len(self.incidents.open_incidents()))
        m.series_tracked.set(len(self.anomalies))
        m.store_write_failures.set(self.writer.failures)

    async def start(self) -> None:
        """Stop survivors of a previous run, start and watch the services."""
        loop = asyncio.get_running_loop()
        orphans = await loop.run_in_executor(None, self.ledger.reap_orphans)
        if orphans:
            log.warning("stopped %d process(es) left over by a previous setpoint", len(orphans))
        for name, watch in self.watches.items():
            if watch.config.command:
                try:
                    await watch.handle.start()
                except Exception as exc:
                    log.error("service %s did not start: %s", name, exc)
            watch.start()
        self.writer.submit(self._audit_start)

    def _audit_start(self) -> None:
        from setpoint.model import AuditEntry

        self.store.audit.append(
            AuditEntry(
                time.time(),
                "setpoint",
                "agent-start",
                "host",
                {"mode": self.mode.value, "services": sorted(self.watches)},
            )
        )

    async def run_loop(self) -> None:
        """Tick every ``interval`` until asked to stop."""
        interval = self.config.interval
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("tick failed; the loop goes on")
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at, delay = time.monotonic(), 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    def request_stop(self) -> None:
        """Ask the loop to finish (signal handlers call this)."""
        self._stop.set()

    async def stop(self) -> None:
        """Finish in-flight work, stop supervised children, flush the store."""
        self._stop.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for watch in self.watches.values():
            await watch.aclose()
        for name, watch in self.watches.items():
            if watch.config.command:
                with watch.handle.maintenance.window():
                    await watch.handle.stop()
                log.info("stopped supervised service %s", name)
        await self.writer.drain()
        self._sensor_pool.shutdown(wait=True)

    def close(self) -> None:
        """Release the store (after :meth:`stop`)."""
        self.writer.close()


def install_signal_handlers(agent: Agent) -> None:
    """SIGTERM and SIGINT ask the agent to stop cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.request_stop)
