"""Approvals with expiry: a decision in ``approve`` mode waits here for a human.

The desk stores a pending approval (in the knowledge store, so it survives a restart
of setpoint), tells people through the webhook, and moves it once: approved (the
executor then carries the decision out), denied (recorded as refused) or expired (never
carried out). Every step is audited under the decision's id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from setpoint.clock import Clock
from setpoint.errors import ApprovalError, ApprovalNotFound
from setpoint.execute.approvals_notify import WebhookNotifier, approval_text
from setpoint.execute.audit import Auditor
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import Approval, ApprovalStatus, Decision

log = logging.getLogger(__name__)


class ApprovalDesk:
    """Pending approvals: request, approve or deny, expire."""

    def __init__(
        self,
        writer: StoreWriter,
        audit: Auditor,
        clock: Clock,
        ttl: float,
        notifier: WebhookNotifier | None = None,
    ) -> None:
        self.writer = writer
        self.audit = audit
        self.clock = clock
        self.ttl = ttl
        self.notifier = notifier
        self._deadlines: dict[str, float] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Pick up the approvals still pending from before a restart, to expire them on time."""
        pending = await self.writer.run(
            self.writer.store.approvals.list, ApprovalStatus.PENDING, 100_000
        )
        self._deadlines = {a.decision_id: a.expires_at for a in pending}

    def pending_count(self) -> int:
        """Approvals this desk knows to be waiting."""
        return len(self._deadlines)

    def due(self) -> bool:
        """True when some pending approval's time is up (cheap: no store access)."""
        now = self.clock.time()
        return any(t <= now for t in self._deadlines.values())

    async def request(self, decision: Decision) -> Approval:
        """Store a pending approval for a recorded decision and notify, without waiting."""
        now = self.clock.time()
        approval = Approval(
            decision.id, now, now + self.ttl, decision.action, decision.target, decision.preview
        )
        await self.writer.run(self.writer.store.approvals.request, approval)
        self._deadlines[decision.id] = approval.expires_at
        self.audit(
            "approval-requested",
            decision.target,
            decision.id,
            expires_at=approval.expires_at,
            ttl_s=self.ttl,
        )
        if self.notifier is not None:
            expires = datetime.fromtimestamp(approval.expires_at).astimezone()
            text = approval_text(decision, approval, expires.isoformat(timespec="seconds"))
            task = asyncio.create_task(self._notify(decision, text), name="notify-approval")
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return approval

    async def _notify(self, decision: Decision, text: str) -> None:
        assert self.notifier is not None
        delivery = await self.notifier.send(text)
        if delivery.ok:
            self.audit("notified", decision.target, decision.id, webhook=delivery.detail)
        else:
            log.warning("approval notification for %s failed: %s", decision.id, delivery.detail)
            self.audit("notify-failed", decision.target, decision.id, error=delivery.detail)

    async def decide(self, decision_id: str, approve: bool, by: str, note: str = "") -> Approval:
        """Approve or deny a pending approval; ApprovalError when it is not pending.

        An approval whose time is up is expired here and then refused, so an answer
        that comes too late never runs anything.
        """
        status = ApprovalStatus.APPROVED if approve else ApprovalStatus.DENIED
        store = self.writer.store.approvals
        done: Approval | None = await self.writer.run(
            store.decide, decision_id, status, self.clock.time(), by, note
        )
        if done is not None:
            self._deadlines.pop(decision_id, None)
            event = "approved" if approve else "verdict:refused"
            detail = {"by": by, "note": note}
            if not approve:
                detail["reason"] = f"denied by {by}" + (f": {note}" if note else "")
                detail["rule"] = "denied"
            self.audit(event, done.target, decision_id, actor=by, **detail)
            return done
        found = await self.writer.run(store.get, decision_id)
        if found is None:
            raise ApprovalNotFound(f"no approval for decision {decision_id!r}")
        if found.status is ApprovalStatus.PENDING:
            await self.expire_due(force=True)
            raise ApprovalError(f"approval of {decision_id} expired; nothing was done")
        raise ApprovalError(
            f"approval of {decision_id} is already {found.status.value}"
            + (f" (by {found.decided_by})" if found.decided_by else "")
        )

    async def expire_due(self, force: bool = False) -> list[Approval]:
        """Expire every pending approval whose time is up, auditing each one.

        Without ``force``, the store is asked only when a known deadline has passed.
        """
        if not force and not self.due():
            return []
        now = self.clock.time()
        expired: list[Approval] = await self.writer.run(self.writer.store.approvals.expire, now)
        for approval in expired:
            self._deadlines.pop(approval.decision_id, None)
            log.warning("approval of %s expired: not carried out", approval.decision_id)
            self.audit(
                "expired",
                approval.target,
                approval.decision_id,
                reason="no answer before the approval expired; not carried out",
                expires_at=approval.expires_at,
            )
        for decision_id, deadline in list(self._deadlines.items()):
            if deadline <= now:
                self._deadlines.pop(decision_id)
        return expired

    async def aclose(self) -> None:
        """Wait for notifications in flight (each bounded by the webhook timeout)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
