"""A service's probe results as series: a real HTTP service made slow, then hung, then failing."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from setpoint.config.models import ProbeConfig, ServiceConfig
from setpoint.model import Sample
from setpoint.monitor.probes import probe_from_config
from setpoint.monitor.service_watch import ERROR_RATE, ERROR_WINDOW, LATENCY, ServiceWatch
from setpoint.service.children import ChildLedger
from setpoint.service.supervised import SupervisedProcess
from tests.unit.monitor.test_service_watch import eventually, free_port

SLOW = 0.3
"""Seconds the service sleeps before answering while it is slow."""

TIMEOUT = 0.5
"""The probe's timeout; the service hangs well past it."""

SERVER = f"""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, mode_file = int(sys.argv[1]), sys.argv[2]
time.sleep(float(sys.argv[3]))  # how long it takes to start listening

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        with open(mode_file) as f:
            mode = f.read().strip()
        if mode == "slow":
            time.sleep({SLOW})
        elif mode == "hang":
            time.sleep(5)
        self.send_response(500 if mode == "fail" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@dataclass(frozen=True)
class Reading:
    """One probe's samples."""

    latency_ms: float
    error_rate: float
    ts: float


class Service:
    """A supervised HTTP service whose behaviour a file sets, and its watch."""

    def __init__(self, tmp: Path, start_delay: float = 0.0) -> None:
        tmp.mkdir()
        self.mode_file = tmp / "mode"
        self.set("fast")
        port = free_port()
        probe = ProbeConfig(
            http=f"http://127.0.0.1:{port}/", timeout=TIMEOUT, interval=0.05, failures=3
        )
        config = ServiceConfig(
            command=[
                sys.executable,
                "-c",
                SERVER,
                str(port),
                str(self.mode_file),
                str(start_delay),
            ],
            probe=probe,
            stop_timeout=2.0,
        )
        ledger = ChildLedger(tmp / "children.json")
        handle = SupervisedProcess("web", config, tmp / "services", ledger)
        self.watch = ServiceWatch(handle, config, probe_from_config(probe), lambda _: None)
        self.seen: list[Sample] = []

    def set(self, mode: str) -> None:
        self.mode_file.write_text(mode)

    async def readings(self, n: int, timeout: float = 15.0) -> list[Reading]:
        """The next ``n`` probes' readings, taken as the agent's tick would take them."""
        deadline = time.monotonic() + timeout
        out: list[Reading] = []
        while len(out) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(out)} of {n} probe readings within {timeout}s")
            taken = self.watch.take_samples()
            assert self.watch.take_samples() == []  # handed out once
            if taken:
                self.seen += taken
                by = {s.series: s for s in taken}
                assert set(by) == {LATENCY, ERROR_RATE} and len(taken) == 2
                assert by[LATENCY].ts == by[ERROR_RATE].ts
                out.append(Reading(by[LATENCY].value, by[ERROR_RATE].value, by[LATENCY].ts))
            await asyncio.sleep(0.01)
        return out


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Callable[[float], Service]]:
    """Services made by a test, stopped after it."""
    made: list[Service] = []

    def make(start_delay: float = 0.0) -> Service:
        made.append(Service(tmp_path / str(len(made)), start_delay))
        return made[-1]

    yield make
    for svc in made:
        await svc.watch.aclose()
        await asyncio.wait_for(svc.watch.handle.stop(), 10)


@pytest.fixture
async def service(services: Callable[[float], Service]) -> Service:
    """A service started, verified healthy, then watched."""
    svc = services(0.0)
    await svc.watch.handle.start()
    result = await svc.watch.wait_healthy(timeout=10.0)
    assert result.ok, result.detail
    assert svc.watch.take_samples() == []  # verification probes are not readings
    svc.watch.start()
    return svc


async def test_latency_and_error_rate_rise_as_the_service_degrades(service: Service) -> None:
    fast = await service.readings(ERROR_WINDOW)
    service.set("slow")
    slow = (await service.readings(4))[1:]  # the first may have started while still fast
    service.set("hang")
    hung = (await service.readings(3))[1:]
    service.set("fail")
    failing = await service.readings(ERROR_WINDOW)

    assert all(r.error_rate == 0.0 for r in fast + slow)
    assert min(r.latency_ms for r in slow) >= SLOW * 1000
    assert statistics.median(r.latency_ms for r in slow) > 3 * statistics.median(
        r.latency_ms for r in fast
    )
    assert [r.latency_ms for r in hung] == pytest.approx([TIMEOUT * 1000] * 2, rel=1e-3)
    rates = [r.error_rate for r in hung + failing]
    assert rates == sorted(rates) and rates[0] > 0.0 and rates[-1] == 1.0
    assert all(0.0 <= r <= 1.0 and round(r * ERROR_WINDOW) == r * ERROR_WINDOW for r in rates)

    series = [s for s in service.seen if s.series == LATENCY]
    assert all(s.entity == "service:web" for s in service.seen)
    stamps = [s.ts for s in series]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # no stale repeats


async def test_the_error_rate_falls_back_once_the_service_recovers(service: Service) -> None:
    service.set("fail")
    failing = await service.readings(4)
    service.set("fast")
    recovering = (await service.readings(ERROR_WINDOW + 2))[1:]
    assert failing[-1].error_rate > 0.0
    rates = [r.error_rate for r in recovering]
    assert rates == sorted(rates, reverse=True) and rates[-1] == 0.0


async def test_refusals_while_the_service_starts_are_not_errors(
    services: Callable[[float], Service],
) -> None:
    svc = services(1.0)
    await svc.watch.handle.start()
    svc.watch.start()  # probing at once, a second before the service listens
    watch = svc.watch
    await eventually(lambda: watch.last_probe is not None and not watch.last_probe.ok)
    assert watch.take_samples() == []
    started = await svc.readings(3)
    assert [r.error_rate for r in started] == [0.0, 0.0, 0.0]
