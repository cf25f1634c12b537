"""The agent: wires monitor, analyze, plan, execute and knowledge into one loop.

This is the only module that knows every stage. One asyncio loop runs the tick
(sensors -> detectors -> incidents), the service watches, remediations and the HTTP
API; blocking work (procfs, SQLite) runs on executor threads, and the foveal tier in a
worker process of its own.
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

from setpoint.analyze.failure.watch import FailureWatch
from setpoint.analyze.foresight import Foresight
from setpoint.analyze.foveal.worker import ForecastJob, FovealWorker
from setpoint.analyze.incidents import IncidentTracker
from setpoint.analyze.peripheral import Peripheral
from setpoint.analyze.state_keeper import StateKeeper
from setpoint.analyze.thresholds import Thresholds
from setpoint.clock import SystemClock
from setpoint.config.models import Config, PlaybookConfig, ServiceConfig
from setpoint.events.base import DECISIONS, INCIDENTS, OUTCOMES, SYMPTOMS
from setpoint.events.memory import MemoryBus
from setpoint.execute.approvals import ApprovalDesk
from setpoint.execute.approvals_notify import WebhookNotifier
from setpoint.execute.audit import Auditor
from setpoint.execute.base import ActionContext
from setpoint.execute.executor import Executor, RunResult
from setpoint.execute.gate import PAUSE_FILE, KillSwitch, SafetyGate
from setpoint.execute.gate.control import GateControl
from setpoint.execute.rollback import harm_policies
from setpoint.execute.rollback_metrics import ServiceMetrics
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.graph_linker import GraphLinker
from setpoint.knowledge.writer import StoreWriter
from setpoint.learning.mining import mine_patterns
from setpoint.learning.outcomes import OutcomeLearner
from setpoint.metrics import AgentMetrics
from setpoint.model import (
    AuditEntry,
    GateMode,
    Incident,
    IncidentStatus,
    Outcome,
    Sample,
    Symptom,
    SymptomState,
)
from setpoint.monitor.base import Sensor
from setpoint.monitor.dir_budget import DirBudgetSensor
from setpoint.monitor.host import HostSensor
from setpoint.monitor.probes import probe_from_config
from setpoint.monitor.process import ProcessSampler
from setpoint.monitor.scheduler import SensorScheduler
from setpoint.monitor.service_watch import ServiceWatch
from setpoint.plan.learned import LearnedChooser
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
        sensors += [DirBudgetSensor(n, b) for n, b in config.disk.budgets.items()]
        self.scheduler = SensorScheduler(sensors, self._sensor_pool)
        self.attention = Peripheral(config.attention)
        forecast = config.forecast
        job = ForecastJob(forecast.keeper(), config.knowledge.url, data_dir)
        self.foveal = FovealWorker(
            config.foveal, self._emit, forecast=job if forecast.enabled else None
        )
        self._worker_on = config.foveal.enabled or forecast.enabled
        self.thresholds = Thresholds(config.thresholds)
        every = config.knowledge.state_every
        self.attention_state = StateKeeper(
            "peripheral", self.attention, store.detector_state, self.writer, every
        )
        self.foresight = Foresight(
            config.prediction, config.crash, lambda p: self.writer.submit(store.predictions.save, p)
        )
        self.incidents = IncidentTracker(config.incidents.resolve_after)
        self.failure = FailureWatch(
            config.failure, data_dir, store, list(config.services), config.knowledge.url
        )
        self.ledger = ChildLedger(data_dir / "children.json")
        self.watches: dict[str, ServiceWatch] = {}
        self._samplers: dict[str, ProcessSampler] = {}
        for name, svc in config.services.items():
            handle = build_handle(name, svc, data_dir, self.ledger)
            probe = probe_from_config(svc.probe) if svc.probe else None
            self.watches[name] = ServiceWatch(handle, svc, probe, self._emit)
            self._samplers[name] = ProcessSampler(name)
        switch = KillSwitch(data_dir / PAUSE_FILE)
        groups = {f"service:{n}": s.group for n, s in config.services.items() if s.group}
        self.gate = SafetyGate(config.mode, config.gate, self.clock, switch, groups)
        self.chooser = LearnedChooser(
            config.learning, lambda sig: self.writer.run(store.patterns.list, sig)
        )
        self.planner = PlaybookPlanner(config.playbooks, self.chooser)
        self.learner = OutcomeLearner(self.writer, self.chooser)
        self.executor = Executor(
            self.gate,
            self.bus,
            actuators,
            self.writer,
            self._context_for,
            self._still_firing,
            self._escalate,
            config.operational_mode,
            approvals=ApprovalDesk(
                self.writer,
                Auditor(self.writer),
                self.clock,
                config.gate.approval_ttl,
                WebhookNotifier(config.notify.webhook, config.notify.timeout)
                if config.notify.webhook
                else None,
            ),
            metrics=ServiceMetrics(),
            harm_policy=harm_policies(config.gate, config.playbooks),
        )
        self.control = GateControl(switch, self.executor, self.clock, self._replan)
        self._firing: dict[str, Symptom] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self.started_at = time.time()
        self.ticks = 0
        self.last_tick_at: float | None = None
        self.last_tick_seconds = 0.0
        self._last_stored = 0.0
        self._last_purge = 0.0
        self._pending_samples: dict[tuple[str, str], Sample] = {}
        self.bus.subscribe(SYMPTOMS, self._on_symptom)
        self.bus.subscribe(SYMPTOMS, self.foresight.on_symptom)
        self.bus.subscribe(DECISIONS, self.foresight.on_decision)
        self.bus.subscribe(DECISIONS, self.learner.on_decision)
        self.bus.subscribe(OUTCOMES, self.learner.on_outcome)
        self.bus.subscribe(
            DECISIONS, lambda d: self.metrics.decisions.labels(d.verdict.status.value).inc()
        )
        self.bus.subscribe(OUTCOMES, lambda o: self.metrics.outcomes.labels(o.status.value).inc())
        if config.graph.enabled:
            self._link_graph(GraphLinker(store))
        self._last_mined = 0.0

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
        watch = self.watches.get(name) if name else None
        return ActionContext(
            entity,
            watch,
            tuple(self.config.disk.allow),
            integrations=self.config.integrations,
        )

    def _still_firing(self, symptom: Symptom) -> bool:
        return symptom.id in self._firing

    def _escalate(self, symptom: Symptom, reason: str) -> None:
        incident = self.incidents.escalate(symptom.entity, reason)
        log.error("escalated %s: %s", symptom.entity, reason)
        if incident is not None:
            self._save_incident(incident)

    def _link_graph(self, linker: GraphLinker) -> None:
        """Link resolved incidents and late outcomes into the knowledge graph, off the loop."""

        def on_incident(incident: Incident) -> None:
            if incident.status is IncidentStatus.RESOLVED:
                self.writer.submit(linker.link_incident, incident)

        def on_outcome(outcome: Outcome) -> None:
            self.writer.submit(linker.on_outcome, outcome)

        self.bus.subscribe(INCIDENTS, on_incident)
        self.bus.subscribe(OUTCOMES, on_outcome)

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
        for playbook in self.planner.matching(symptom):
            self._spawn(self._remediate(playbook, symptom, incident), "remediate")

    async def _predict_failure(self, now: float) -> None:
        for symptom in await self.failure.check(now):
            await self.bus.publish(SYMPTOMS, symptom)

    def _replan(self) -> None:
        """Plan again for every symptom still firing (after ``setpoint resume``)."""
        open_by_id = {i.id: i for i in self.incidents.open_incidents()}
        for symptom in list(self._firing.values()):
            incident = open_by_id.get(symptom.incident_id or "")
            for playbook in self.planner.matching(symptom):
                self._spawn(self._remediate(playbook, symptom, incident), "remediate")

    async def _remediate(
        self, playbook: PlaybookConfig, symptom: Symptom, incident: Incident | None
    ) -> None:
        """Fix first, escalate if it did not work: retry while the symptom stands.

        Each try passes the gate again, so the budget ends a loop with an escalation;
        a learned playbook chooses again, with what the failed try taught. A playbook
        with ``when.for`` first waits until the symptom has fired that long, and does
        nothing if it cleared meanwhile.
        """
        incident_id = incident.id if incident else None
        hold = playbook.when.for_
        if hold is not None:
            await asyncio.sleep(max(0.0, symptom.ts + hold - time.time()))
            if not self._still_firing(symptom):
                return
        while True:
            proposals = await self.planner.propose(playbook, symptom)
            if (await self.executor.run(proposals, incident_id)) is not RunResult.FAILED:
                return
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
            "series": len(self.attention),
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
            "gate": self.control.status(),
            "store_write_failures": self.writer.failures,
            "forecasts": self.foveal.forecasts(),
            "foveal": self.foveal.status() if self._worker_on else None,
        }

    async def tick(self) -> None:
        """One pass: read, detect, resolve quiet incidents, store."""
        started = time.perf_counter()
        samples = await self.scheduler.poll()
        for name, watch in self.watches.items():
            samples += watch.take_samples()  # probe readings, each once, at their own time
            pid = watch.handle.pid()
            if pid is not None:
                with contextlib.suppress(Exception):
                    samples += self._samplers[name].sample(pid)
        self.metrics.series.update(samples)
        for symptom in self.attention.observe(samples):
            await self.bus.publish(SYMPTOMS, symptom)
        if self.foveal.accepting:
            self.foveal.submit(samples, self.attention.salience())
        for symptom in self.thresholds.observe(samples):
            await self.bus.publish(SYMPTOMS, symptom)
        now = time.time()
        for symptom in self.foresight.observe(samples, now):
            await self.bus.publish(SYMPTOMS, symptom)
        if self.foresight.due(now):
            snapshot = self.foresight.snapshot(now)
            self.writer.submit(self.foresight.sync, self.store.predictions, snapshot)
        for incident in self.incidents.tick(now):
            self._save_incident(incident)
        if self.failure.due(now):
            self._spawn(self._predict_failure(now), "predict-failure")
        self._store_samples(samples, now)
        if self.executor.approvals.due():
            self._spawn(self.executor.approvals.expire_due(), "expire-approvals")
        if now - self._last_mined >= self.config.learning.mine_every:
            self._last_mined = now
            self.writer.submit(mine_patterns, self.store, self.config.learning, now)
        self.attention_state.tick(now)
        self._update_metrics()
        self.ticks += 1
        self.last_tick_at = now
        self.last_tick_seconds = time.perf_counter() - started
        self.metrics.ticks.inc()
        self.metrics.tick_seconds.observe(self.last_tick_seconds)

    def _store_samples(self, samples: list[Sample], now: float) -> None:
        """Keep samples at ``knowledge.sample_every`` resolution; roll up and purge hourly.

        Retention runs on the store writer thread, after the writes queued before it, in
        short transactions: never on the event loop.
        """
        for sample in samples:
            self._pending_samples[sample.ident] = sample
        if now - self._last_stored >= self.config.knowledge.sample_every:
            self._last_stored = now
            batch, self._pending_samples = list(self._pending_samples.values()), {}
            self.writer.submit(self.store.samples.append, batch)
        if now - self._last_purge >= _PURGE_EVERY:
            self._last_purge = now
            retention = self.config.knowledge.retention
            self.writer.submit(self.store.samples.retain, now, retention.samples, retention.hourly)
            self.writer.submit(self.store.audit.purge, now - retention.audit)

    def _update_metrics(self) -> None:
        m = self.metrics
        for name, health in self.scheduler.health().items():
            m.sensor_up.labels(name).set(1 if health.up else 0)
        for name, watch in self.watches.items():
            m.service_up.labels(name).set(1 if watch.health == "healthy" else 0)
        m.incidents_open.set(len(self.incidents.open_incidents()))
        m.series_tracked.set(len(self.attention))
        m.store_write_failures.set(self.writer.failures)

    async def start(self) -> None:
        """Stop survivors of a previous run, start and watch the services."""
        loop = asyncio.get_running_loop()
        orphans = await loop.run_in_executor(None, self.ledger.reap_orphans)
        if orphans:
            log.warning("stopped %d process(es) left over by a previous setpoint", len(orphans))
        self.foresight.ledger.load(await self.writer.run(self.store.predictions.pending))
        await self.attention_state.restore()
        for name, watch in self.watches.items():
            if watch.config.command:
                try:
                    await watch.handle.start()
                except Exception as exc:
                    log.error("service %s did not start: %s", name, exc)
            watch.start()
        await self.executor.approvals.start()
        if self._worker_on:
            await self.foveal.start()
        self.writer.submit(self._audit_start)

    def _audit_start(self) -> None:
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
        """Finish in-flight work, save what attention learned, stop children, flush the store."""
        self._stop.set()
        self.attention_state.save(time.time())
        await self.foveal.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.executor.aclose()
        await self.failure.aclose()
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
