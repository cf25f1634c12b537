"""Carry out a playbook's proposals through the safety gate, and record everything.

Decisions and outcomes are also published on the bus, for learning to listen to.

For each proposal: wait out the target's cooldown, flap backoff, rate limit and a
blast-radius slot, check the symptom still stands, ask the gate, preview, record the
decision and the verdict, then (if allowed) apply, verify and record the outcome,
rolling back a reversible action that failed verification or made its target worse
(:mod:`setpoint.execute.rollback_guard`). In approve mode the decision waits at the
:class:`~setpoint.execute.approvals.ApprovalDesk` and runs when a human approves it.
One action at a time per target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from setpoint.clock import SystemClock
from setpoint.errors import ActuationError, PluginError
from setpoint.events.base import DECISIONS, EventBus
from setpoint.execute.approvals import ApprovalDesk
from setpoint.execute.audit import Auditor
from setpoint.execute.base import Actuator, Reversible
from setpoint.execute.gate import Permit, SafetyGate
from setpoint.execute.rollback import HarmPolicy, TargetMetrics, harm_policies
from setpoint.execute.rollback_guard import Job, RollbackGuard, RunResult
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import (
    Approval,
    Decision,
    OperationalMode,
    Symptom,
    Verdict,
    VerdictStatus,
    new_id,
)
from setpoint.plan.playbooks import Proposal
from setpoint.plugins import Registry

__all__ = ["Executor", "RunResult"]

log = logging.getLogger(__name__)


class Executor:
    """Runs proposals through gate, actuator, verification and rollback."""

    def __init__(
        self,
        gate: SafetyGate,
        bus: EventBus,
        actuators: Registry[Any],
        writer: StoreWriter,
        context_for: Callable[[str], Any],
        still_firing: Callable[[Symptom], bool],
        on_escalate: Callable[[Symptom, str], None],
        operational_mode: OperationalMode = OperationalMode.BALANCED,
        *,
        approvals: ApprovalDesk | None = None,
        metrics: TargetMetrics | None = None,
        harm_policy: Callable[[str, str], HarmPolicy] | None = None,
    ) -> None:
        self.gate = gate
        self.bus = bus
        self.actuators = actuators
        self.writer = writer
        self.context_for = context_for
        self.still_firing = still_firing
        self.on_escalate = on_escalate
        self.operational_mode = operational_mode
        self.audit = Auditor(writer)
        self.approvals = approvals or ApprovalDesk(
            writer, self.audit, SystemClock(), gate.config.approval_ttl
        )
        self.metrics = metrics
        self.harm_policy = harm_policy or harm_policies(gate.config, ())
        self.counts: defaultdict[str, int] = defaultdict(int)
        self.guard = RollbackGuard(bus, writer, self.audit, on_escalate, self.counts)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._slot_freed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, proposals: Sequence[Proposal], incident_id: str | None) -> RunResult:
        """Run one playbook's proposals in order; stop at the first that does not heal."""
        result = RunResult.SKIPPED
        for proposal in proposals:
            result = await self._run_one(proposal, incident_id)
            if result is not RunResult.HEALED and result is not RunResult.HELD:
                break
        return result

    async def _wait(
        self,
        action: str,
        target: str,
        decision_id: str | None = None,
        wanted: Callable[[], bool] = lambda: True,
    ) -> None:
        """Wait out what would only refuse the action for now: cooldown, backoff, rate, blast.

        The blast-radius wait ends when a slot frees, when the action is no longer
        ``wanted`` (checked every second) or after ``blast_radius.wait``; the gate then
        judges as usual.
        """
        try:
            cls = self.actuators.get(action)
        except PluginError:
            return
        wait, why = self.gate.wait_before(action, target, cls.risk)
        if wait > 0:
            self.audit(why, target, decision_id, wait_s=round(wait, 3))
            await asyncio.sleep(wait)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.gate.config.blast_radius.wait
        refusal = self.gate.blast_refusal(target, cls.blast)
        if refusal is not None:
            self.audit("blast-wait", target, decision_id, reason=refusal)
        while refusal is not None and wanted() and loop.time() < deadline:
            freed = self._slot_freed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(freed.wait(), min(1.0, max(0.0, deadline - loop.time())))
            refusal = self.gate.blast_refusal(target, cls.blast)

    def release(self, permit: Permit) -> None:
        """Give the permit's blast-radius slot back and wake actions waiting for one."""
        self.gate.release(permit)
        freed, self._slot_freed = self._slot_freed, asyncio.Event()
        freed.set()

    async def _run_one(self, proposal: Proposal, incident_id: str | None) -> RunResult:
        target = proposal.target
        async with self._locks[target]:
            await self._wait(
                proposal.action, target, wanted=lambda: self.still_firing(proposal.symptom)
            )
            if not self.still_firing(proposal.symptom):
                self.audit("skipped", target, None, reason="symptom cleared before acting")
                return RunResult.SKIPPED
            return await self._decide_and_act(proposal, incident_id)

    def _judge(
        self, action: str, target: str, params: Any, approved: bool = False
    ) -> tuple[Actuator, Any, Verdict]:
        """Make the actuator and ask the gate; an allowed action is admitted at once."""
        cls = self.actuators.get(action)
        config = self.actuators.config_for(action, params)
        actuator: Actuator = cls(config)
        limits = getattr(cls, "constraints", ())
        verdict = self.gate.judge(
            action,
            target,
            actuator.risk,
            blast=actuator.blast,
            params=config,
            limits=limits,
            approved=approved,
        )
        return actuator, self.context_for(target), verdict

    async def _measure(self, actuator: Actuator, ctx: Any) -> dict[str, float] | None:
        if self.metrics is None or not isinstance(actuator, Reversible):
            return None
        return await self.metrics.measure(ctx)

    async def _decide_and_act(self, proposal: Proposal, incident_id: str | None) -> RunResult:
        target, action = proposal.target, proposal.action
        actuator, ctx, verdict = self._judge(action, target, proposal.params)
        permit = (
            self.gate.admit(action, target, actuator.risk, actuator.blast)
            if verdict.allowed
            else None
        )
        try:
            preview = ""
            if verdict.status is not VerdictStatus.OBSERVE:
                try:
                    preview = await actuator.preview(ctx)
                except ActuationError as exc:
                    preview = f"preview failed: {exc}"
            before = await self._measure(actuator, ctx) if permit else None
            state_before = ctx.snapshot() | ({"metrics": before} if before else {})
            decision = Decision(
                id=new_id(),
                ts=time.time(),
                trigger=proposal.symptom.kind,
                entity=proposal.symptom.entity,
                incident_id=incident_id,
                playbook=proposal.playbook,
                action=action,
                target=target,
                params=proposal.params,
                verdict=verdict,
                operational_mode=self.operational_mode,
                preview=preview,
                state_before=state_before,
                symptom_id=proposal.symptom.id,
            )
            self.writer.submit(self.writer.store.decisions.record, decision)
            await self.bus.publish(DECISIONS, decision)
            self._record_verdict(verdict, target, decision.id, action, proposal.playbook)
            if verdict.status is VerdictStatus.ESCALATE:
                self.on_escalate(proposal.symptom, verdict.reason)
                return RunResult.SKIPPED
            if verdict.status is VerdictStatus.PENDING_APPROVAL:
                await self.approvals.request(decision)
                return RunResult.HELD
            if permit is None:
                return RunResult.HELD
            job = Job(decision.id, action, target, proposal.playbook, proposal.symptom)
            policy = self.harm_policy(proposal.playbook, action)
            return await self.guard.apply(job, actuator, ctx, before, self.metrics, policy)
        finally:
            if permit is not None:
                self.release(permit)

    def _record_verdict(
        self,
        verdict: Verdict,
        target: str,
        decision_id: str,
        action: str,
        playbook: str,
        actor: str = "setpoint",
    ) -> None:
        self.counts[verdict.status.value] += 1
        self.audit(
            f"verdict:{verdict.status.value}",
            target,
            decision_id,
            actor=actor,
            action=action,
            playbook=playbook,
            reason=verdict.reason,
            **({"rule": verdict.rule} if verdict.rule else {}),
        )
        log.info(
            "decision %s: %s %s -> %s (%s)",
            decision_id,
            action,
            target,
            verdict.status.value,
            verdict.reason,
        )

    async def approve(self, decision_id: str, by: str, note: str = "") -> Approval:
        """Approve a pending decision and start carrying it out; ApprovalError if not pending."""
        approval = await self.approvals.decide(decision_id, True, by, note)
        task = asyncio.create_task(self._run_approved(decision_id, by), name="run-approved")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return approval

    async def deny(self, decision_id: str, by: str, note: str = "") -> Approval:
        """Refuse a pending decision; it is recorded as refused and never carried out."""
        return await self.approvals.decide(decision_id, False, by, note)

    async def _run_approved(self, decision_id: str, by: str) -> None:
        """Carry out an approved decision: the gate's limits still apply, the mode does not."""
        record = await self.writer.run(self.writer.store.decisions.get, decision_id)
        if record is None:
            log.error("approved decision %s is not in the store", decision_id)
            return
        target, action = record.target, record.action
        params = record.actions_taken[0].get("params", {}) if record.actions_taken else {}
        symptom = Symptom(
            record.trigger,
            record.entity,
            record.timestamp,
            id=record.symptom_id or new_id(),
            incident_id=record.incident_id,
        )
        async with self._locks[target]:
            await self._wait(action, target, decision_id)
            try:
                actuator, ctx, verdict = self._judge(action, target, params, approved=True)
            except (PluginError, ValueError) as exc:
                self.audit("apply-failed", target, decision_id, actor=by, error=str(exc))
                return
            permit = (
                self.gate.admit(action, target, actuator.risk, actuator.blast)
                if verdict.allowed
                else None
            )
            try:
                self._record_verdict(verdict, target, decision_id, action, record.playbook, by)
                if verdict.status is VerdictStatus.ESCALATE:
                    self.on_escalate(symptom, verdict.reason)
                if permit is None:
                    return
                before = await self._measure(actuator, ctx)
                job = Job(decision_id, action, target, record.playbook, symptom, approved_by=by)
                policy = self.harm_policy(record.playbook, action)
                await self.guard.apply(job, actuator, ctx, before, self.metrics, policy)
            finally:
                if permit is not None:
                    self.release(permit)

    async def aclose(self) -> None:
        """Stop approved runs still in progress and wait for pending notifications."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.approvals.aclose()
