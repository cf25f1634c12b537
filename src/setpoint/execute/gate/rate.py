"""Token-bucket rate limits per risk class, shared by every target on the host.

The default lets one destructive action through per minute. A bucket starts full,
refills evenly, and holds at most ``count`` tokens, so ``count`` is also the burst.
"""

from __future__ import annotations

from setpoint.clock import Clock
from setpoint.config.models import RateConfig, RateLimitsConfig
from setpoint.execute.base import Risk


class TokenBucket:
    """``capacity`` tokens, refilled at ``capacity / period`` per second.

    >>> from setpoint.clock import ManualClock
    >>> clock = ManualClock(0)
    >>> bucket = TokenBucket(1, 60.0, clock)
    >>> bucket.take(), bucket.wait(), bucket.take()
    (True, 60.0, False)
    >>> clock.advance(60); bucket.take()
    True
    """

    def __init__(self, capacity: int, period: float, clock: Clock) -> None:
        self.capacity = capacity
        self.period = period
        self.clock = clock
        self._tokens = float(capacity)
        self._at = clock.monotonic()

    def _refill(self) -> None:
        now = self.clock.monotonic()
        rate = self.capacity / self.period
        self._tokens = min(float(self.capacity), self._tokens + (now - self._at) * rate)
        self._at = now

    def tokens(self) -> float:
        """Tokens available now."""
        self._refill()
        return self._tokens

    def wait(self) -> float:
        """Seconds until one token is available (0 when one is)."""
        missing = 1.0 - self.tokens()
        return max(0.0, missing * self.period / self.capacity)

    def take(self) -> bool:
        """Spend one token; False (and nothing spent) when none is available."""
        if self.tokens() < 1.0:
            return False
        self._tokens -= 1.0
        return True


class RateLimits:
    """One bucket per risk class that has a limit."""

    def __init__(self, config: RateLimitsConfig, clock: Clock) -> None:
        self._config: dict[Risk, RateConfig] = {}
        self._buckets: dict[Risk, TokenBucket] = {}
        for risk in Risk:
            rate: RateConfig | None = getattr(config, risk.value)
            if rate is not None:
                self._config[risk] = rate
                self._buckets[risk] = TokenBucket(rate.count, rate.per, clock)

    def refusal(self, risk: Risk) -> str | None:
        """Why an action of class ``risk`` must not run now, or None when a token is free."""
        bucket = self._buckets.get(risk)
        if bucket is None or bucket.tokens() >= 1.0:
            return None
        rate = self._config[risk]
        return (
            f"rate limit: at most {rate.count} {risk.value} action(s) per {rate.per:g}s; "
            f"next in {bucket.wait():.1f}s"
        )

    def wait(self, risk: Risk) -> float:
        """Seconds until ``risk``'s bucket has a token (0 when it has one or no limit)."""
        bucket = self._buckets.get(risk)
        return bucket.wait() if bucket is not None else 0.0

    def take(self, risk: Risk) -> None:
        """Spend a token of ``risk``'s bucket (after :meth:`refusal` said there is one)."""
        bucket = self._buckets.get(risk)
        if bucket is not None:
            bucket.take()

    def status(self) -> dict[str, float]:
        """Tokens left per limited risk class, for ``GET /status``."""
        return {risk.value: round(b.tokens(), 3) for risk, b in self._buckets.items()}
