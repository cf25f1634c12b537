from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from setpoint.clock import ManualClock
from setpoint.errors import SensorUnavailable
from setpoint.model import Sample
from setpoint.monitor.scheduler import SensorHealth, SensorScheduler

LOGGER = "setpoint.monitor.scheduler"


class Steady:
    """A sensor that always reads one sample."""

    name = "steady"

    def collect(self) -> Sequence[Sample]:
        return [Sample("steady.value", 1.0, 0.0)]


class Flaky:
    """A sensor that fails its first ``failures`` collects, then reads."""

    name = "flaky"

    def __init__(self, failures: int, error: Exception) -> None:
        self.left = failures
        self.error = error

    def collect(self) -> Sequence[Sample]:
        if self.left:
            self.left -= 1
            raise self.error
        return [Sample("flaky.value", 2.0, 0.0)]


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == level]


async def test_failing_sensor_goes_down_then_recovers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(1000.0)
    scheduler = SensorScheduler([Steady(), Flaky(2, SensorUnavailable("disk gone"))], clock=clock)

    first = await scheduler.poll()
    clock.advance(1)
    second = await scheduler.poll()
    down = scheduler.health()["flaky"]
    clock.advance(1)
    third = await scheduler.poll()

    assert [s.series for s in first] == [s.series for s in second] == ["steady.value"]
    assert [s.series for s in third] == ["steady.value", "flaky.value"]
    assert down == SensorHealth(up=False, since=1000.0, last_error="disk gone", failures=2)
    assert scheduler.health() == {
        "steady": SensorHealth(up=True, since=1000.0),
        "flaky": SensorHealth(up=True, since=1002.0),
    }
    [warning] = records(caplog, logging.WARNING)
    [info] = records(caplog, logging.INFO)
    assert warning.getMessage() == "sensor flaky is down: disk gone"
    assert warning.exc_info is None
    assert info.getMessage() == "sensor flaky recovered after 2 failed polls"


async def test_unexpected_exception_is_a_down_state_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = SensorScheduler([Flaky(3, RuntimeError("bug"))])
    for _ in range(3):
        assert await scheduler.poll() == []

    health = scheduler.health()["flaky"]
    assert (health.up, health.failures, health.last_error) == (False, 3, "RuntimeError: bug")
    [warning] = records(caplog, logging.WARNING)
    assert warning.exc_info is not None


async def test_health_is_empty_before_the_first_poll() -> None:
    assert SensorScheduler([Steady()]).health() == {}


async def test_runs_sensors_in_the_given_executor() -> None:
    threads: list[str] = []

    class WhereAmI:
        name = "where"

        def collect(self) -> Sequence[Sample]:
            threads.append(threading.current_thread().name)
            return [Sample("where.value", 1.0, 0.0)]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sensors") as executor:
        samples = await SensorScheduler([WhereAmI(), Steady()], executor).poll()

    assert [s.series for s in samples] == ["where.value", "steady.value"]
    assert threads == ["sensors_0"]
