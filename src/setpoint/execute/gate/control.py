"""What people may do to a running agent's gate: pause, resume, approve, deny.

The HTTP API calls these (``POST /pause``, ``POST /approvals/{id}/approve``...);
each one is audited with the person who did it as the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from setpoint.clock import Clock
from setpoint.execute.executor import Executor
from setpoint.execute.gate.pause import KillSwitch, PauseState
from setpoint.model import HOST, Approval


class GateControl:
    """The kill switch and the approval desk of one agent, for people to use."""

    def __init__(
        self,
        switch: KillSwitch,
        executor: Executor,
        clock: Clock,
        on_resume: Callable[[], None] | None = None,
    ) -> None:
        self.switch = switch
        self.executor = executor
        self.clock = clock
        self.on_resume = on_resume

    def pause(self, by: str, reason: str = "") -> PauseState:
        """Stop every action now and after restarts, until :meth:`resume`."""
        already = self.switch.state()
        state = self.switch.pause(by, reason, self.clock.time())
        if already is None:
            self.executor.audit("paused", HOST, actor=by, reason=reason)
        return state

    def resume(self, by: str) -> bool:
        """Let actions through again; False when nothing was paused.

        ``on_resume`` then plans again for what is still wrong: a symptom that fired
        while paused was refused, and would otherwise wait for its next firing.
        """
        resumed = self.switch.resume()
        if resumed:
            self.executor.audit("resumed", HOST, actor=by)
            if self.on_resume is not None:
                self.on_resume()
        return resumed

    def paused(self) -> PauseState | None:
        """The pause in force, or None."""
        return self.switch.state()

    async def approve(self, decision_id: str, by: str, note: str = "") -> Approval:
        """Approve a pending decision; it runs through the gate's limits at once."""
        return await self.executor.approve(decision_id, by, note)

    async def deny(self, decision_id: str, by: str, note: str = "") -> Approval:
        """Refuse a pending decision."""
        return await self.executor.deny(decision_id, by, note)

    def status(self) -> dict[str, Any]:
        """The gate's part of ``GET /status``: pause, actions in flight, tokens, approvals."""
        return {
            **self.executor.gate.status(),
            "pending_approvals": self.executor.approvals.pending_count(),
        }
