"""Verify-and-rollback on a real service: ``process.renice`` through the whole executor.

The service is a real single-threaded HTTP server whose handler burns 10 ms of CPU,
pinned to one CPU. With ``hog`` it also starts a busy-looping child on the same CPU
(in its own session, so the kernel's autogroups do not hide niceness), which dies with
it (PR_SET_PDEATHSIG). Renicing the server to 19 then starves it: its latency rises
from tens of milliseconds to seconds, and the executor must roll the action back.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from setpoint.clock import ManualClock
from setpoint.config.models import GateConfig, ProbeConfig, ServiceConfig
from setpoint.errors import ApprovalError
from setpoint.events.memory import MemoryBus
from setpoint.execute.approvals import ApprovalDesk
from setpoint.execute.audit import Auditor
from setpoint.execute.base import ActionContext
from setpoint.execute.executor import Executor, RunResult
from setpoint.execute.gate import PAUSE_FILE, KillSwitch, SafetyGate
from setpoint.execute.process_renice import niceness, threads
from setpoint.execute.rollback import HarmPolicy
from setpoint.execute.rollback_metrics import ServiceMetrics
from setpoint.knowledge.sqlite import SQLiteStore, open_sqlite_store
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import GateMode, Symptom
from setpoint.monitor.probes import probe_from_config
from setpoint.monitor.service_watch import ServiceWatch
from setpoint.plan.playbooks import Proposal
from setpoint.plugins import Registry
from setpoint.service.children import ChildLedger
from setpoint.service.supervised import SupervisedProcess
from tests.integration.harness import free_port

WEB = "service:web"
SERVER = """\
import ctypes, http.server, os, signal, subprocess, sys, time
port, cpu, hog = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "hog"
os.sched_setaffinity(0, {cpu})
if hog:
    subprocess.Popen([sys.executable, "-c", "import ctypes, signal\\n"
                      "ctypes.CDLL(None).prctl(1, signal.SIGKILL)\\nwhile True: pass"])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        end = time.thread_time() + 0.01
        while time.thread_time() < end:
            pass
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


class Rig:
    """A CPU-bound web service, a store, the gate (manual clock) and the executor."""

    def __init__(self, tmp: Path, mode: GateMode, hog: bool, harm: float) -> None:
        tmp.mkdir()
        port = free_port()
        cpu = min(os.sched_getaffinity(0))
        probe = ProbeConfig(http=f"http://127.0.0.1:{port}/", timeout=5.0)
        argv = [sys.executable, "-c", SERVER, str(port), str(cpu), "hog" if hog else "-"]
        config = ServiceConfig(command=argv, probe=probe, stop_timeout=2.0)
        self.handle = SupervisedProcess("web", config, tmp / "services", ChildLedger(tmp / "c"))
        self.watch = ServiceWatch(self.handle, config, probe_from_config(probe), lambda s: None)
        self.store: SQLiteStore = open_sqlite_store(tmp / "knowledge.db")
        self.writer = StoreWriter(self.store)
        self.clock = ManualClock(time.time())
        self.switch = KillSwitch(tmp / PAUSE_FILE)
        self.gate = SafetyGate(mode, GateConfig(cooldown=0.0), self.clock, self.switch)
        self.escalations: list[str] = []
        self.symptom = Symptom("service.slow", WEB, time.time())
        self.desk = ApprovalDesk(self.writer, Auditor(self.writer), self.clock, 900.0)
        self.executor = Executor(
            self.gate,
            MemoryBus(),
            Registry("actuator", "setpoint.actuators"),
            self.writer,
            lambda entity: ActionContext(entity, self.watch),
            lambda symptom: True,
            lambda symptom, reason: self.escalations.append(reason),
            approvals=self.desk,
            metrics=ServiceMetrics(probes=2, cpu_interval=0.3),
            harm_policy=lambda playbook, action: HarmPolicy(window=2.0, threshold=harm),
        )

    async def start(self) -> int:
        await self.handle.start()
        pid = self.handle.pid()
        assert pid is not None
        deadline = time.monotonic() + 10
        while not (await self.watch.probe.check()).ok:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the service never answered"
            await asyncio.sleep(0.05)
        return pid

    def nice(self) -> set[int]:
        pid = self.handle.pid()
        assert pid is not None
        return {niceness(tid) for tid in threads(pid)}

    async def run(self, nice: int) -> RunResult:
        proposal = Proposal("calm-web", "process.renice", {"nice": nice}, WEB, self.symptom)
        result = await self.executor.run([proposal], "inc-1")
        await self.writer.drain()
        return result

    def decision(self) -> Any:
        [record] = self.store.decisions.list()
        return record

    def events(self, decision_id: str) -> list[str]:
        return [e.event for e in self.store.audit.list(decision_id)]

    async def close(self) -> None:
        await self.executor.aclose()
        await asyncio.wait_for(self.handle.stop(), 10)
        await self.writer.drain()
        self.writer.close()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(mode: GateMode = GateMode.AUTO, hog: bool = False, harm: float = 0.2) -> Rig:
        made.append(Rig(tmp_path / str(len(made)), mode, hog, harm))
        return made[-1]

    yield make
    for r in made:
        await r.close()


async def test_an_action_that_starves_its_service_is_rolled_back(
    rig: Callable[..., Rig],
) -> None:
    r = rig(GateMode.AUTO, hog=True)
    await r.start()
    assert r.nice() == {0}

    started = time.monotonic()
    assert await r.run(19) is RunResult.ROLLED_BACK
    took = time.monotonic() - started

    assert r.nice() == {0}, "rollback restores the niceness the threads had"
    record = r.decision()
    assert (record.verdict, record.outcome, record.reward_signal) == ("execute", "PARTIAL", -0.5)
    after = record.state_after
    assert after["rolled_back"] is True and after["harm"]["metric"] == "latency_p50_s"
    assert after["metrics_after"]["latency_p50_s"] > 5 * after["metrics_before"]["latency_p50_s"]
    assert record.state_before["metrics"]["probe_ok"] == 1.0
    assert "rolled back: p50 latency +" in record.outcome_detail
    assert r.events(record.id) == [
        "verdict:execute",
        "applied",
        "verified",
        "watching",
        "rolled-back",
    ]
    [rolled] = [e for e in r.store.audit.list(record.id) if e.event == "rolled-back"]
    assert rolled.detail["reason"].startswith("p50 latency +")
    assert rolled.detail["result"].startswith("restored niceness 0 on ")
    [escalation] = r.escalations
    assert escalation.startswith("process.renice on service:web rolled back: p50 latency +")
    assert took < 20, "measured, watched for 2 s and rolled back within the test's window"


async def test_an_action_that_helps_is_kept(rig: Callable[..., Rig]) -> None:
    r = rig(GateMode.AUTO, hog=True)
    await r.start()

    assert await r.run(-5) is RunResult.HEALED

    assert r.nice() == {-5}
    record = r.decision()
    assert record.outcome == "SUCCESS" and "rolled_back" not in record.state_after
    assert r.events(record.id)[-2:] == ["watching", "no-harm"]
    assert r.escalations == []


@pytest.mark.parametrize(
    ("mode", "verdict"), [(GateMode.DRY_RUN, "dry-run"), (GateMode.OBSERVE, "observe")]
)
async def test_dry_run_and_observe_leave_the_process_as_it_is(
    rig: Callable[..., Rig], mode: GateMode, verdict: str
) -> None:
    r = rig(mode)
    pid = await r.start()

    assert await r.run(19) is RunResult.HELD

    assert r.nice() == {0} and r.handle.pid() == pid
    record = r.decision()
    assert (record.verdict, record.outcome) == (verdict, None)
    if mode is GateMode.DRY_RUN:
        assert record.preview.startswith("renice 1 thread(s) of service:web from 0 to 19")


async def test_pause_stops_the_action(rig: Callable[..., Rig]) -> None:
    r = rig(GateMode.AUTO)
    await r.start()
    r.switch.pause("alice", "maintenance", time.time())

    assert await r.run(10) is RunResult.HELD

    assert r.nice() == {0}
    record = r.decision()
    assert (record.verdict, record.verdict_reason) == ("refused", "paused by alice: maintenance")
    [entry] = r.store.audit.list(record.id)
    assert (entry.event, entry.detail["rule"]) == ("verdict:refused", "paused")


async def test_a_hard_limit_refuses_and_is_audited(rig: Callable[..., Rig]) -> None:
    r = rig(GateMode.AUTO)
    await r.start()

    assert await r.run(-15) is RunResult.HELD

    assert r.nice() == {0}
    record = r.decision()
    assert record.verdict == "refused"
    assert record.verdict_reason == "constraint process.renice.nice >= -10: nice is -15"
    [entry] = r.store.audit.list(record.id)
    assert entry.detail["rule"] == "constraint:process.renice.nice"


async def test_an_approved_decision_runs_and_records_who_approved(
    rig: Callable[..., Rig],
) -> None:
    # Only the approval is under test: a latency blip on a busy machine must not roll
    # the renice back, so no worsening short of 100x counts as harm here.
    r = rig(GateMode.APPROVE, harm=100.0)
    await r.start()
    assert await r.run(-5) is RunResult.HELD
    record = r.decision()
    assert r.nice() == {0}, "nothing runs before the approval"

    await r.executor.approve(record.id, "alice")
    deadline = time.monotonic() + 20
    while r.store.decisions.get(record.id).outcome is None:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the approved decision never finished"
        await asyncio.sleep(0.1)
        await r.writer.drain()

    assert r.nice() == {-5}
    done = r.store.decisions.get(record.id)
    assert done is not None and done.outcome == "SUCCESS"
    trail = [(e.event, e.actor) for e in r.store.audit.list(record.id)]
    assert trail[:5] == [
        ("verdict:pending-approval", "setpoint"),
        ("approval-requested", "setpoint"),
        ("approved", "alice"),
        ("verdict:execute", "alice"),
        ("applied", "setpoint"),
    ]
    [applied] = [e for e in r.store.audit.list(record.id) if e.event == "applied"]
    assert applied.detail["approved_by"] == "alice"


async def test_an_expired_approval_does_not_execute(rig: Callable[..., Rig]) -> None:
    r = rig(GateMode.APPROVE)
    await r.start()
    assert await r.run(10) is RunResult.HELD
    record = r.decision()
    r.clock.advance(900.0)

    with pytest.raises(ApprovalError, match="expired"):
        await r.executor.approve(record.id, "alice")
    await asyncio.sleep(0.2)
    await r.writer.drain()

    assert r.nice() == {0}, "an expired approval never runs"
    assert r.store.decisions.get(record.id).outcome is None  # type: ignore[union-attr]
    assert r.events(record.id) == ["verdict:pending-approval", "approval-requested", "expired"]


async def test_a_denied_decision_is_refused_and_never_runs(rig: Callable[..., Rig]) -> None:
    r = rig(GateMode.APPROVE)
    await r.start()
    assert await r.run(10) is RunResult.HELD
    record = r.decision()

    denied = await r.executor.deny(record.id, "bob", "not now")
    await asyncio.sleep(0.2)
    await r.writer.drain()

    assert denied.status.value == "denied" and r.nice() == {0}
    assert r.events(record.id)[-1] == "verdict:refused"
    with pytest.raises(ApprovalError, match="already denied"):
        await r.executor.approve(record.id, "alice")
