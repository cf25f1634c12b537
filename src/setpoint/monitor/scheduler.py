"""Polls sensors off the event loop and keeps each one's health as state.

A sensor that raises is marked down, not fatal: the scheduler logs a warning once
when it goes down and an info line once when it recovers, as Home Assistant's
``DataUpdateCoordinator`` does, and :meth:`SensorScheduler.health` exposes the state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from setpoint.clock import Clock, SystemClock
from setpoint.errors import SensorUnavailable
from setpoint.model import Sample
from setpoint.monitor.base import Sensor

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """Whether a sensor is reading, since when (epoch seconds), and why not.

    ``failures`` counts the consecutive failed polls; it is 0 while the sensor is up.
    """

    up: bool
    since: float
    last_error: str = ""
    failures: int = 0


class SensorScheduler:
    """Runs every sensor's ``collect`` in an executor and gathers the samples.

    ``executor`` defaults to the event loop's default executor.
    """

    def __init__(
        self,
        sensors: Sequence[Sensor],
        executor: Executor | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.sensors = tuple(sensors)
        self._executor = executor
        self._clock: Clock = clock or SystemClock()
        self._health: dict[str, SensorHealth] = {}

    async def poll(self) -> list[Sample]:
        """Collect from every sensor once, concurrently; a failing sensor gives nothing."""
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(
            *(loop.run_in_executor(self._executor, s.collect) for s in self.sensors),
            return_exceptions=True,
        )
        samples: list[Sample] = []
        for sensor, result in zip(self.sensors, results, strict=True):
            if isinstance(result, Exception):
                self._down(sensor.name, result)
            elif isinstance(result, BaseException):
                raise result
            else:
                self._up(sensor.name)
                samples.extend(result)
        return samples

    def health(self) -> dict[str, SensorHealth]:
        """Return the health of every sensor polled at least once, by sensor name."""
        return dict(self._health)

    def _up(self, name: str) -> None:
        before = self._health.get(name)
        if before is None or not before.up:
            self._health[name] = SensorHealth(up=True, since=self._clock.time())
            if before is not None:
                logger.info("sensor %s recovered after %d failed polls", name, before.failures)

    def _down(self, name: str, exc: Exception) -> None:
        before = self._health.get(name)
        expected = isinstance(exc, SensorUnavailable)
        reason = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        if before is not None and not before.up:
            self._health[name] = SensorHealth(
                up=False, since=before.since, last_error=reason, failures=before.failures + 1
            )
            return
        self._health[name] = SensorHealth(
            up=False, since=self._clock.time(), last_error=reason, failures=1
        )
        # an unexpected exception is a bug in the sensor: keep its traceback
        logger.warning(
            "sensor %s is down: %s",
            name,
            reason,
            exc_info=None if expected else exc,
        )
