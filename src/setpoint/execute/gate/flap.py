"""Loop and flap detection: the same action on the same target, again and again.

A service that crashes, is restarted, and crashes again is a loop that a plain
cooldown keeps feeding. Each (target, action) pair keeps a streak of acts that came
within ``window`` of the one before; from the ``after``-th act on, the next one waits
an exponentially growing backoff. The executor waits it out (audited as ``backoff``);
the restart budget still ends the loop with an escalation.
"""

from __future__ import annotations

from dataclasses import dataclass

from setpoint.clock import Clock
from setpoint.config.models import FlapConfig


@dataclass(slots=True)
class _Streak:
    count: int
    last: float


class FlapDetector:
    """Streaks of repeated acts per (target, action) and the backoff they earn.

    >>> from setpoint.clock import ManualClock
    >>> clock = ManualClock(0)
    >>> flap = FlapDetector(FlapConfig(after=2, backoff=10, window=600), clock)
    >>> flap.record("svc", "restart"); flap.backoff("svc", "restart")
    (0.0, 1)
    >>> flap.record("svc", "restart"); flap.backoff("svc", "restart")
    (10.0, 2)
    >>> clock.advance(10); flap.record("svc", "restart"); flap.backoff("svc", "restart")
    (20.0, 3)
    """

    def __init__(self, config: FlapConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._streaks: dict[tuple[str, str], _Streak] = {}

    def required(self, count: int) -> float:
        """The wait after the ``count``-th act of a streak."""
        cfg = self.config
        if count < cfg.after:
            return 0.0
        return float(min(cfg.max_backoff, cfg.backoff * 2 ** (count - cfg.after)))

    def record(self, target: str, action: str) -> None:
        """Count an act: it extends the streak when it comes within the window."""
        now = self.clock.monotonic()
        streak = self._streaks.get((target, action))
        if streak is not None and now - streak.last < self.config.window:
            streak.count += 1
            streak.last = now
        else:
            self._streaks[(target, action)] = _Streak(1, now)

    def backoff(self, target: str, action: str) -> tuple[float, int]:
        """Seconds still to wait before acting again, and the streak length so far."""
        streak = self._streaks.get((target, action))
        if streak is None:
            return 0.0, 0
        since = self.clock.monotonic() - streak.last
        if since >= self.config.window:
            return 0.0, 0
        return max(0.0, self.required(streak.count) - since), streak.count
