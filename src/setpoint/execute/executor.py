"""Carry out a playbook's proposals through the safety gate, and record everything.

Decisions and outcomes are also published on the bus, for learning to listen to.

For each proposal: wait out the target's cooldown, check the symptom still stands,
ask the gate, preview, record the decision and the verdict, then (if allowed) apply,
verify and record the outcome. One action at a time per target.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from setpoint.errors import ActuationError
from setpoint.events.base import DECISIONS, OUTCOMES, EventBus
from setpoint.execute.base import ActionContext, Actuator
from setpoint.execute.gate import SafetyGate
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import (
    AuditEntry,
    Decision,
    OperationalMode,
    Outcome,
    OutcomeStatus,
    Symptom,
    VerdictStatus,
    new_id,
)
from setpoint.plan.playbooks import Proposal
from setpoint.plugins import Registry

log = logging.getLogger(__name__)


class RunResult(StrEnum):
    """How a playbook run ended."""

    HEALED = "healed"
    FAILED = "failed"
    HELD = "held"
    SKIPPED = "skipped"


class Executor:
    """Runs proposals through gate, actuator and verification."""

    def __init__(
        self,
        gate: SafetyGate,
        bus: EventBus,
        actuators: Registry[Any],
        writer: StoreWriter,
        context_for: Callable[[str], ActionContext],
        still_firing: Callable[[Symptom], bool],
        on_escalate: Callable[[Symptom, str], None],
        operational_mode: OperationalMode = OperationalMode.BALANCED,
    ) -> None:
        self.gate = gate
        self.bus = bus
        self.actuators = actuators
        self.writer = writer
        self.context_for = context_for
        self.still_firing = still_firing
        self.on_escalate = on_escalate
        self.operational_mode = operational_mode
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.counts: defaultdict[str, int] = defaultdict(int)

    def _audit(self, event: str, target: str, decision_id: str | None, **detail: Any) -> None:
        entry = AuditEntry(time.time(), "setpoint", event, target, detail, decision_id)
        self.writer.submit(self.writer.store.audit.append, entry)

    async def run(self, proposals: Sequence[Proposal], incident_id: str | None) -> RunResult:
        """Run one playbook's proposals in order; stop at the first that does not heal."""
        result = RunResult.SKIPPED
        for proposal in proposals:
            result = await self._run_one(proposal, incident_id)
            if result is not RunResult.HEALED and result is not RunResult.HELD:
                break
        return result

    async def _run_one(self, proposal: Proposal, incident_id: str | None) -> RunResult:
        target = proposal.target
        async with self._locks[target]:
            wait = self.gate.cooldown_remaining(target)
            if wait > 0:
                self._audit("cooldown", target, None, wait_s=round(wait, 3))
                await asyncio.sleep(wait)
            if not self.still_firing(proposal.symptom):
                self._audit("skipped", target, None, reason="symptom cleared before acting")
                return RunResult.SKIPPED
            return await self._decide_and_act(proposal, incident_id)

    async def _decide_and_act(self, proposal: Proposal, incident_id: str | None) -> RunResult:
        target = proposal.target
        cls = self.actuators.get(proposal.action)
        actuator: Actuator = cls(cls.Config.model_validate(proposal.params))
        ctx = self.context_for(target)
        verdict = self.gate.judge(proposal.action, target, actuator.risk)
        preview = ""
        if verdict.status is not VerdictStatus.OBSERVE:
            try:
                preview = await actuator.preview(ctx)
            except ActuationError as exc:
                preview = f"preview failed: {exc}"
        decision = Decision(
            id=new_id(),
            ts=time.time(),
            trigger=proposal.symptom.kind,
            entity=proposal.symptom.entity,
            incident_id=incident_id,
            playbook=proposal.playbook,
            action=proposal.action,
            target=target,
            params=proposal.params,
            verdict=verdict,
            operational_mode=self.operational_mode,
            preview=preview,
            state_before=ctx.snapshot(),
            symptom_id=proposal.symptom.id,
        )
        self.writer.submit(self.writer.store.decisions.record, decision)
        await self.bus.publish(DECISIONS, decision)
        self.counts[verdict.status.value] += 1
        self._audit(
            f"verdict:{verdict.status.value}",
            target,
            decision.id,
            action=proposal.action,
            playbook=proposal.playbook,
            reason=verdict.reason,
        )
        log.info(
            "decision %s: %s %s -> %s (%s)",
            decision.id,
            proposal.action,
            target,
            verdict.status.value,
            verdict.reason,
        )
        if verdict.status is VerdictStatus.ESCALATE:
            self.on_escalate(proposal.symptom, verdict.reason)
            return RunResult.SKIPPED
        if not verdict.allowed:
            return RunResult.HELD
        return await self._apply(actuator, ctx, decision)

    async def _apply(self, actuator: Actuator, ctx: ActionContext, decision: Decision) -> RunResult:
        target = decision.target
        self.gate.record(target)
        started = time.monotonic()
        try:
            done = await actuator.apply(ctx)
        except ActuationError as exc:
            self._audit("apply-failed", target, decision.id, error=str(exc))
            await self._outcome(decision, OutcomeStatus.FAILED, ctx, str(exc), started, {})
            return RunResult.FAILED
        self._audit("applied", target, decision.id, result=done)
        check = await actuator.verify(ctx)
        status = OutcomeStatus.SUCCESS if check.ok else OutcomeStatus.FAILED
        self._audit(
            "verified" if check.ok else "verify-failed",
            target,
            decision.id,
            detail=check.detail,
            **check.measurements,
        )
        await self._outcome(
            decision, status, ctx, f"{done}; verify: {check.detail}", started, check.measurements
        )
        return RunResult.HEALED if check.ok else RunResult.FAILED

    async def _outcome(
        self,
        decision: Decision,
        status: OutcomeStatus,
        ctx: ActionContext,
        detail: str,
        started: float,
        measurements: dict[str, Any],
    ) -> None:
        took = time.monotonic() - started
        state_after = {**ctx.snapshot(), **measurements, "action_s": round(took, 4)}
        reward = 1.0 if status is OutcomeStatus.SUCCESS else -1.0
        outcome = Outcome(decision.id, time.time(), status, state_after, reward, detail)
        self.writer.submit(self.writer.store.decisions.record_outcome, outcome)
        await self.bus.publish(OUTCOMES, outcome)
        self.counts[f"outcome:{status.value}"] += 1
        log.info("decision %s outcome %s in %.3fs: %s", decision.id, status.value, took, detail)
