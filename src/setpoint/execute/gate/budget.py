"""The restart budget and the cooldown, both per target.

The budget allows ``count`` disruptive or destructive actions on one target within
``window``; past it the gate escalates to a human ("fix first, escalate if it did not
work"). The cooldown is the pause between two actions on one target, which the
executor waits out.
"""

from __future__ import annotations

from collections import defaultdict, deque

from setpoint.clock import Clock
from setpoint.config.models import GateConfig


class TargetBudget:
    """When each target was last acted on, and how often within the budget window.

    >>> from setpoint.clock import ManualClock
    >>> budget = TargetBudget(GateConfig(cooldown=5), ManualClock(0))
    >>> budget.record("service:web"); budget.used("service:web"), budget.cooldown("service:web")
    (1, 5.0)
    """

    def __init__(self, config: GateConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._history: dict[str, deque[float]] = defaultdict(deque)
        self._last: dict[str, float] = {}

    def used(self, target: str) -> int:
        """Actions on ``target`` still inside the budget window."""
        history = self._history[target]
        horizon = self.clock.monotonic() - self.config.restart_budget.window
        while history and history[0] <= horizon:
            history.popleft()
        return len(history)

    def exhausted(self, target: str, kind: str) -> str | None:
        """The escalation reason when ``target``'s budget is spent, else None.

        ``kind`` names the class of the action asked for, for the reason's wording.
        """
        budget = self.config.restart_budget
        used = self.used(target)
        if used < budget.count:
            return None
        return (
            f"budget exhausted: {used} {kind} actions on {target} within "
            f"{budget.window:g}s (limit {budget.count}); escalating to a human"
        )

    def cooldown(self, target: str) -> float:
        """Seconds until the cooldown after ``target``'s last action ends."""
        last = self._last.get(target)
        if last is None:
            return 0.0
        return max(0.0, last + self.config.cooldown - self.clock.monotonic())

    def record(self, target: str) -> None:
        """Count an action on ``target`` against its budget and restart its cooldown."""
        now = self.clock.monotonic()
        self.used(target)
        self._history[target].append(now)
        self._last[target] = now
