"""The one safety gate in front of every actuator.

It answers with a :class:`~setpoint.model.Verdict` value, never an exception: a
refusal is a normal, audited outcome. Here: the mode (observe, dry-run, approve,
auto), a budget of disruptive actions per target (then escalate), and a cooldown per
target that the executor waits out.
"""

from __future__ import annotations

from collections import defaultdict, deque

from setpoint.clock import Clock
from setpoint.config.models import GateConfig
from setpoint.execute.base import Risk
from setpoint.model import GateMode, Verdict, VerdictStatus

_MODE_VERDICT = {
    GateMode.OBSERVE: (VerdictStatus.OBSERVE, "mode is observe: nothing is previewed or applied"),
    GateMode.DRY_RUN: (VerdictStatus.DRY_RUN, "mode is dry-run: previewed, not applied"),
    GateMode.APPROVE: (VerdictStatus.PENDING_APPROVAL, "mode is approve: waiting for a human"),
}


class SafetyGate:
    """Judges each proposed action against mode, budget and cooldown.

    >>> from setpoint.clock import ManualClock
    >>> gate = SafetyGate(GateMode.AUTO, GateConfig(), ManualClock(0))
    >>> for _ in range(3):
    ...     gate.record("service:web")
    >>> gate.judge("service.restart", "service:web", Risk.DISRUPTIVE).status.value
    'escalate'
    """

    def __init__(self, mode: GateMode, config: GateConfig, clock: Clock) -> None:
        self.mode = mode
        self.config = config
        self.clock = clock
        self._history: dict[str, deque[float]] = defaultdict(deque)
        self._last: dict[str, float] = {}

    def _recent(self, target: str) -> deque[float]:
        history = self._history[target]
        horizon = self.clock.monotonic() - self.config.restart_budget.window
        while history and history[0] <= horizon:
            history.popleft()
        return history

    def cooldown_remaining(self, target: str) -> float:
        """Seconds until the target's cooldown after its last action ends."""
        last = self._last.get(target)
        if last is None:
            return 0.0
        return max(0.0, last + self.config.cooldown - self.clock.monotonic())

    def judge(self, action: str, target: str, risk: Risk) -> Verdict:
        """The verdict for ``action`` on ``target`` now."""
        if self.mode in _MODE_VERDICT:
            status, reason = _MODE_VERDICT[self.mode]
            return Verdict(status, self.mode, reason)
        if risk is not Risk.SAFE:
            budget = self.config.restart_budget
            used = len(self._recent(target))
            if used >= budget.count:
                reason = (
                    f"budget exhausted: {used} {risk.value} actions on {target} within "
                    f"{budget.window:g}s (limit {budget.count}); escalating to a human"
                )
                return Verdict(VerdictStatus.ESCALATE, self.mode, reason)
            reason = f"mode is auto; {risk.value} action {used + 1} of {budget.count} allowed"
            return Verdict(VerdictStatus.EXECUTE, self.mode, reason)
        return Verdict(VerdictStatus.EXECUTE, self.mode, f"mode is auto; {action} is safe")

    def record(self, target: str) -> None:
        """Count an action applied to ``target`` against its budget and cooldown."""
        now = self.clock.monotonic()
        self._recent(target).append(now)
        self._last[target] = now
