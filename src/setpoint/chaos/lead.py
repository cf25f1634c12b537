"""Lead time of a predictive scenario: how long before the failure setpoint acted.

A fault that fills something toward a limit (a leak toward a memory limit, a writer
toward a directory's budget) records its usage from outside as it goes. When the
failure happened (the limit was reached, or the kernel killed the process), the lead
is the time from setpoint's action to it, negative if the action came late. When
setpoint acted first, as it should, the failure never comes: its time is extrapolated
from the readings up to the action, with their least-squares rate.
"""

from __future__ import annotations

from setpoint.execute.growth import slope


class Approach:
    """Readings of a usage rising toward ``limit``, and the failure if it came."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.points: list[tuple[float, float]] = []
        self.failed_at: float | None = None

    def add(self, ts: float, used: float) -> None:
        """Record one reading; reaching the limit is the failure."""
        self.points.append((ts, used))
        if used >= self.limit:
            self.fail(ts)

    def fail(self, ts: float) -> None:
        """Record that the failure happened at ``ts`` (only the first time counts)."""
        if self.failed_at is None:
            self.failed_at = ts

    def lead(self, acted_at: float) -> float | None:
        """Seconds from ``acted_at`` to the failure, measured or extrapolated.

        >>> a = Approach(100.0)
        >>> for t in range(5):
        ...     a.add(float(t), 10.0 * t)
        >>> a.lead(4.0)
        6.0
        >>> a.fail(7.5)
        >>> a.lead(4.0)
        3.5
        """
        if self.failed_at is not None:
            return round(self.failed_at - acted_at, 3)
        before = [p for p in self.points if p[0] <= acted_at]
        rate = slope(before)
        if len(before) < 2 or rate <= 0:
            return None
        ts, used = before[-1]
        return round(ts + (self.limit - used) / rate - acted_at, 3)
