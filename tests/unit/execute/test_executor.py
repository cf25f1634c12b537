"""The executor with real parts: a SQLite store, a supervised process, the real actuator.

The service is a real ``python -c "time.sleep(60)"`` child watched without a probe;
``service.restart`` comes from the entry-point registry as the daemon loads it. The
gate runs on a manual clock with no cooldown, so nothing waits on it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from setpoint.clock import ManualClock
from setpoint.config.models import BudgetConfig, GateConfig, ServiceConfig
from setpoint.events.base import OUTCOMES
from setpoint.events.memory import MemoryBus
from setpoint.execute.base import ActionContext, Blast, Risk
from setpoint.execute.executor import Executor, RunResult
from setpoint.execute.gate import SafetyGate
from setpoint.execute.service_restart import ServiceRestart
from setpoint.knowledge.base import DecisionRecord
from setpoint.knowledge.sqlite import SQLiteStore, open_sqlite_store
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import GateMode, Outcome, Symptom, SymptomState
from setpoint.monitor.service_watch import DOWN, UNHEALTHY, ServiceWatch
from setpoint.plan.playbooks import Proposal
from setpoint.plugins import Registry
from setpoint.service.children import ChildLedger
from setpoint.service.signals import alive
from setpoint.service.supervised import SupervisedProcess

PY = sys.executable
SLEEP = "import time; time.sleep(60)"
WEB = "service:web"


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


class Rig:
    """Store, writer, supervised service with its watch, gate and executor."""

    def __init__(self, tmp: Path, mode: GateMode, budget: int, code: str) -> None:
        tmp.mkdir()
        self.store: SQLiteStore = open_sqlite_store(tmp / "knowledge.db")
        self.writer = StoreWriter(self.store)
        config = ServiceConfig(command=[PY, "-c", code], stop_timeout=2.0, verify_timeout=5.0)
        ledger = ChildLedger(tmp / "children.json")
        self.handle = SupervisedProcess("web", config, tmp / "services", ledger)
        self.emitted: list[Symptom] = []
        self.watch = ServiceWatch(self.handle, config, None, self.emitted.append)
        self.actuators: Registry[Any] = Registry("actuator", "setpoint.actuators")
        gate_config = GateConfig(cooldown=0.0, restart_budget=BudgetConfig(count=budget))
        self.gate = SafetyGate(mode, gate_config, ManualClock(1000.0))
        self.firing: dict[str, Symptom] = {}
        self.escalations: list[tuple[Symptom, str]] = []
        self.bus = MemoryBus()
        self.outcomes: list[Outcome] = []
        self.bus.subscribe(OUTCOMES, self.outcomes.append)
        self.executor = Executor(
            self.gate,
            self.bus,
            self.actuators,
            self.writer,
            lambda entity: ActionContext(entity, self.watch if entity == WEB else None),
            lambda symptom: symptom.id in self.firing,
            lambda symptom, reason: self.escalations.append((symptom, reason)),
        )

    def symptom(self, kind: str = UNHEALTHY) -> Symptom:
        """A firing symptom of the service, known to be firing."""
        symptom = Symptom(kind, WEB, time.time())
        self.firing[symptom.id] = symptom
        return symptom

    async def run(self, symptom: Symptom, incident_id: str | None = "inc-1") -> RunResult:
        proposal = Proposal("restart-web", "service.restart", {"settle": 0.3}, WEB, symptom)
        result = await self.executor.run([proposal], incident_id)
        await self.writer.drain()
        return result

    def decisions(self) -> list[DecisionRecord]:
        return self.store.decisions.list()

    def events(self, decision_id: str | None = None) -> list[str]:
        return [entry.event for entry in self.store.audit.list(decision_id)]

    async def close(self) -> None:
        await asyncio.wait_for(self.handle.stop(), 10)
        await self.writer.drain()
        self.writer.close()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(mode: GateMode = GateMode.AUTO, budget: int = 3, code: str = SLEEP) -> Rig:
        made.append(Rig(tmp_path / str(len(made)), mode, budget, code))
        return made[-1]

    yield make
    for r in made:
        await r.close()


async def started(r: Rig) -> int:
    await r.handle.start()
    pid = r.handle.pid()
    assert pid is not None
    return pid


async def test_the_registry_gives_the_real_actuator(rig: Callable[..., Rig]) -> None:
    assert rig().actuators.get("service.restart") is ServiceRestart


async def test_auto_restarts_a_dead_service_and_records_everything(
    rig: Callable[..., Rig],
) -> None:
    r = rig(GateMode.AUTO)
    old = await started(r)
    os.kill(old, signal.SIGKILL)
    await eventually(lambda: r.emitted)
    [down] = r.emitted
    r.firing[down.id] = down

    assert await r.run(down) is RunResult.HEALED

    new = r.handle.pid()
    assert new is not None and new != old and alive(new)
    [record] = r.decisions()
    assert (record.trigger, record.entity, record.incident_id) == (DOWN, WEB, "inc-1")
    assert (record.symptom_id, record.playbook, record.action) == (
        down.id,
        "restart-web",
        "service.restart",
    )
    assert (record.gate_mode, record.verdict) == ("auto", "execute")
    assert record.preview.startswith("restart web: nothing to stop; start ")
    assert (record.outcome, record.reward_signal) == ("SUCCESS", 1.0)
    assert record.state_before["pid"] is None and record.state_before["health"] == "down"
    assert record.state_after is not None
    assert record.state_after["pid"] == new and record.state_after["health"] == "healthy"
    assert record.state_after["probe_ok"] is True and record.state_after["action_s"] > 0
    assert r.events(record.id) == ["verdict:execute", "applied", "verified"]
    assert [(s.kind, s.state) for s in r.emitted] == [
        (DOWN, SymptomState.FIRING),
        (DOWN, SymptomState.CLEARED),
    ]
    assert dict(r.executor.counts) == {"execute": 1, "outcome:SUCCESS": 1}
    assert [(o.decision_id, o.status.value) for o in r.outcomes] == [(record.id, "SUCCESS")]


async def test_a_restart_that_does_not_stay_up_fails_verification(
    rig: Callable[..., Rig],
) -> None:
    r = rig(GateMode.AUTO, code="import time; time.sleep(0.1)")  # under settle
    await started(r)

    assert await r.run(r.symptom()) is RunResult.FAILED

    [record] = r.decisions()
    assert (record.verdict, record.outcome, record.reward_signal) == ("execute", "FAILED", -1.0)
    assert record.outcome_detail is not None
    assert "exited during verification" in record.outcome_detail
    assert r.events(record.id) == ["verdict:execute", "applied", "verify-failed"]


@pytest.mark.parametrize(
    ("mode", "verdict"),
    [(GateMode.DRY_RUN, "dry-run"), (GateMode.APPROVE, "pending-approval")],
)
async def test_dry_run_previews_and_leaves_the_process_alone(
    rig: Callable[..., Rig], mode: GateMode, verdict: str
) -> None:
    r = rig(mode)
    pid = await started(r)

    assert await r.run(r.symptom()) is RunResult.HELD

    [record] = r.decisions()
    assert (record.verdict, record.outcome, record.state_after) == (verdict, None, None)
    assert record.preview.startswith(
        f"restart web: stop pid {pid} (SIGCONT, SIGTERM, 2s grace, SIGKILL); start {PY} -c"
    )
    assert record.state_before["pid"] == pid
    asked = ["approval-requested"] if mode is GateMode.APPROVE else []
    assert r.events(record.id) == [f"verdict:{verdict}", *asked]
    assert r.handle.pid() == pid and alive(pid) and r.handle.starts == 1


async def test_observe_decides_without_a_preview(rig: Callable[..., Rig]) -> None:
    r = rig(GateMode.OBSERVE)
    pid = await started(r)

    assert await r.run(r.symptom()) is RunResult.HELD

    [record] = r.decisions()
    assert (record.verdict, record.preview, record.outcome) == ("observe", "", None)
    assert r.handle.pid() == pid


async def test_a_symptom_no_longer_firing_is_skipped(rig: Callable[..., Rig]) -> None:
    r = rig(GateMode.AUTO)
    pid = await started(r)
    symptom = r.symptom()
    del r.firing[symptom.id]

    assert await r.run(symptom) is RunResult.SKIPPED

    assert r.decisions() == []
    [skipped] = r.store.audit.list()
    assert (skipped.event, skipped.target) == ("skipped", WEB)
    assert skipped.detail["reason"] == "symptom cleared before acting"
    assert r.handle.pid() == pid


async def test_an_escalate_verdict_calls_on_escalate(rig: Callable[..., Rig]) -> None:
    r = rig(GateMode.AUTO, budget=1)
    pid = await started(r)
    r.gate.record(WEB)  # the one restart the budget allows is spent
    symptom = r.symptom()

    assert await r.run(symptom) is RunResult.SKIPPED

    [(escalated, reason)] = r.escalations
    assert escalated is symptom
    assert reason.startswith("budget exhausted: 1 disruptive actions on service:web")
    [record] = r.decisions()
    assert (record.verdict, record.outcome) == ("escalate", None)
    assert r.events(record.id) == ["verdict:escalate"]
    assert r.handle.pid() == pid and r.handle.starts == 1


async def test_a_restart_waits_for_a_host_wide_action_to_finish(
    rig: Callable[..., Rig],
) -> None:
    r = rig(GateMode.AUTO)
    pid = await started(r)
    compacting = r.gate.admit("memory.compact", "host", Risk.SAFE, Blast.HOST)
    symptom = r.symptom()

    run = asyncio.create_task(r.run(symptom))
    await r.writer.drain()
    await eventually(lambda: "blast-wait" in r.events())
    assert not run.done() and r.handle.pid() == pid and r.decisions() == []
    [waited] = r.store.audit.list()
    assert waited.detail["reason"] == "blast radius: a host-wide action is in flight"

    r.executor.release(compacting)
    assert await asyncio.wait_for(run, 20) is RunResult.HEALED
    [record] = r.decisions()
    assert record.verdict == "execute" and r.handle.pid() != pid


async def test_an_action_no_longer_wanted_stops_waiting_for_a_slot(
    rig: Callable[..., Rig],
) -> None:
    r = rig(GateMode.AUTO)
    pid = await started(r)
    r.gate.admit("memory.compact", "host", Risk.SAFE, Blast.HOST)
    symptom = r.symptom()

    run = asyncio.create_task(r.run(symptom))
    await eventually(lambda: r.executor.gate.blast_refusal(WEB, Blast.SERVICE) is not None)
    del r.firing[symptom.id]

    assert await asyncio.wait_for(run, 20) is RunResult.SKIPPED
    assert r.decisions() == [] and r.handle.pid() == pid
