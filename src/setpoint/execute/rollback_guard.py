"""Apply, verify, watch, and undo: what happens once the gate has let an action through.

A reversible action that fails verification is rolled back at once. One that passes
is watched for the verify window; when its target got worse by more than the
threshold it is rolled back too. Either way the incident is escalated to a human and
the run ends (no retry of an action that was just undone). The outcome records the
metrics before and after, the harm and the rollback:

- SUCCESS (reward 1): verified, and no harm measured;
- PARTIAL (reward -0.5): verified, but harmful, and rolled back;
- FAILED (reward -1): not applied, not verified, or the rollback itself failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from setpoint.errors import ActuationError
from setpoint.events.base import OUTCOMES, EventBus
from setpoint.execute.audit import Auditor
from setpoint.execute.base import ActionContext, Actuator, Reversible, Verification
from setpoint.execute.rollback import HarmPolicy, TargetMetrics, assess
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import Outcome, OutcomeStatus, Symptom

log = logging.getLogger(__name__)

_REWARD = {OutcomeStatus.SUCCESS: 1.0, OutcomeStatus.PARTIAL: -0.5, OutcomeStatus.FAILED: -1.0}


class RunResult(StrEnum):
    """How a playbook run ended."""

    HEALED = "healed"
    FAILED = "failed"
    HELD = "held"
    SKIPPED = "skipped"
    ROLLED_BACK = "rolled-back"


@dataclass(frozen=True, slots=True)
class Job:
    """One admitted action of one recorded decision."""

    decision_id: str
    action: str
    target: str
    playbook: str
    symptom: Symptom
    approved_by: str | None = None


class RollbackGuard:
    """Applies an admitted action and sees it through to its outcome."""

    def __init__(
        self,
        bus: EventBus,
        writer: StoreWriter,
        audit: Auditor,
        on_escalate: Callable[[Symptom, str], None],
        counts: MutableMapping[str, int],
    ) -> None:
        self.bus = bus
        self.writer = writer
        self.audit = audit
        self.on_escalate = on_escalate
        self.counts = counts

    async def apply(
        self,
        job: Job,
        actuator: Actuator,
        ctx: ActionContext,
        before: dict[str, float] | None,
        metrics: TargetMetrics | None,
        policy: HarmPolicy,
    ) -> RunResult:
        """Apply, verify, watch the window and roll back on failure or harm."""
        started = time.monotonic()
        by = {"approved_by": job.approved_by} if job.approved_by else {}
        try:
            done = await actuator.apply(ctx)
        except ActuationError as exc:
            self.audit("apply-failed", job.target, job.decision_id, error=str(exc))
            await self._outcome(job, OutcomeStatus.FAILED, ctx, str(exc), started, {})
            return RunResult.FAILED
        self.audit("applied", job.target, job.decision_id, result=done, **by)
        check = await self._verify(actuator, ctx)
        self.audit(
            "verified" if check.ok else "verify-failed",
            job.target,
            job.decision_id,
            detail=check.detail,
            **check.measurements,
        )
        facts: dict[str, Any] = dict(check.measurements)
        summary = f"{done}; verify: {check.detail}"
        if not isinstance(actuator, Reversible):
            status = OutcomeStatus.SUCCESS if check.ok else OutcomeStatus.FAILED
            await self._outcome(job, status, ctx, summary, started, facts)
            return RunResult.HEALED if check.ok else RunResult.FAILED
        why = None if check.ok else f"verification failed: {check.detail}"
        if why is None and metrics is not None and before is not None:
            self.audit("watching", job.target, job.decision_id, window_s=policy.window)
            await asyncio.sleep(policy.window)
            after = await metrics.measure(ctx)
            harm = assess(before, after, policy.threshold)
            facts |= {"metrics_before": before, "metrics_after": after}
            if harm is not None:
                why = harm.describe()
                facts["harm"] = {"metric": harm.metric, "change": round(harm.change, 4)}
            else:
                self.audit("no-harm", job.target, job.decision_id, metrics=after)
        if why is None:
            await self._outcome(job, OutcomeStatus.SUCCESS, ctx, summary, started, facts)
            return RunResult.HEALED
        return await self._roll_back(job, actuator, ctx, why, summary, started, facts, check.ok)

    @staticmethod
    async def _verify(actuator: Actuator, ctx: ActionContext) -> Verification:
        try:
            return await actuator.verify(ctx)
        except ActuationError as exc:
            return Verification(False, f"could not verify: {exc}")

    async def _roll_back(
        self,
        job: Job,
        actuator: Reversible,
        ctx: ActionContext,
        why: str,
        summary: str,
        started: float,
        facts: dict[str, Any],
        verified: bool,
    ) -> RunResult:
        try:
            undone = await actuator.rollback(ctx)
        except ActuationError as exc:
            self.audit("rollback-failed", job.target, job.decision_id, reason=why, error=str(exc))
            detail = f"{summary}; rollback after {why} failed: {exc}"
            facts["rolled_back"] = False
            await self._outcome(job, OutcomeStatus.FAILED, ctx, detail, started, facts)
            self.on_escalate(job.symptom, f"{job.action} on {job.target}: {detail}")
            return RunResult.FAILED
        self.audit("rolled-back", job.target, job.decision_id, reason=why, result=undone)
        log.warning("decision %s rolled back: %s", job.decision_id, why)
        facts |= {"rolled_back": True, "rollback_reason": why}
        status = OutcomeStatus.PARTIAL if verified else OutcomeStatus.FAILED
        detail = f"{summary}; rolled back: {why} ({undone})"
        await self._outcome(job, status, ctx, detail, started, facts)
        self.on_escalate(job.symptom, f"{job.action} on {job.target} rolled back: {why}")
        return RunResult.ROLLED_BACK

    async def _outcome(
        self,
        job: Job,
        status: OutcomeStatus,
        ctx: ActionContext,
        detail: str,
        started: float,
        facts: dict[str, Any],
    ) -> None:
        took = time.monotonic() - started
        state_after = {**ctx.snapshot(), **facts, "action_s": round(took, 4)}
        reward = _REWARD[status]
        outcome = Outcome(job.decision_id, time.time(), status, state_after, reward, detail)
        self.writer.submit(self.writer.store.decisions.record_outcome, outcome)
        await self.bus.publish(OUTCOMES, outcome)
        self.counts[f"outcome:{status.value}"] += 1
        log.info("decision %s outcome %s in %.3fs: %s", job.decision_id, status.value, took, detail)
