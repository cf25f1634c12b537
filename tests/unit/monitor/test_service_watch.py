"""ServiceWatch on real supervised processes: a real HTTP server and a real probe."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from setpoint.config.models import ProbeConfig, ServiceConfig
from setpoint.model import Severity, Symptom, SymptomState
from setpoint.monitor.probes import probe_from_config
from setpoint.monitor.service_watch import DOWN, UNHEALTHY, ServiceWatch
from setpoint.service.children import ChildLedger
from setpoint.service.signals import proc_state
from setpoint.service.supervised import SupervisedProcess

PY = sys.executable
SLEEP = ["-c", "import time; time.sleep(60)"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


class Watched:
    """Supervised services with their watches; everything is stopped at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ledger = ChildLedger(tmp / "children.json")
        self.emitted: list[Symptom] = []
        self.watches: list[ServiceWatch] = []

    def make(self, args: list[str], probe: ProbeConfig | None = None) -> ServiceWatch:
        config = ServiceConfig(command=[PY, *args], probe=probe, stop_timeout=2.0)
        handle = SupervisedProcess("web", config, self.tmp / "services", self.ledger)
        watch = ServiceWatch(
            handle, config, probe_from_config(probe) if probe else None, self.emitted.append
        )
        self.watches.append(watch)
        return watch

    def web(self, **probe: object) -> ServiceWatch:
        """``python -m http.server`` on a free port, probed over HTTP."""
        port = free_port()
        args = ["-m", "http.server", str(port), "--bind", "127.0.0.1"]
        url = f"http://127.0.0.1:{port}/"
        return self.make(args, ProbeConfig.model_validate({"http": url, **probe}))

    def kinds(self, state: SymptomState = SymptomState.FIRING) -> list[str]:
        return [s.kind for s in self.emitted if s.state is state]

    async def close(self) -> None:
        for watch in self.watches:
            await watch.aclose()
            pid = watch.handle.pid()
            if pid is not None:  # a child the test started, maybe left frozen
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            await asyncio.wait_for(watch.handle.stop(), 10)


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[Watched]:
    w = Watched(tmp_path)
    yield w
    await w.close()


async def started(watch: ServiceWatch) -> int:
    """Start the service, wait until it is healthy, then begin watching."""
    await watch.handle.start()
    result = await watch.wait_healthy(timeout=10.0, settle=0.2)
    assert result.ok, result.detail
    watch.start()
    pid = watch.handle.pid()
    assert pid is not None
    return pid


async def test_kill_9_fires_service_down_once(watched: Watched) -> None:
    watch = watched.web(interval=0.2, timeout=0.5, failures=2)
    pid = await started(watch)

    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: watched.emitted)
    await asyncio.sleep(0.8)  # state checks and probes run on; nothing more may fire

    [down] = watched.emitted
    assert (down.kind, down.state, down.severity) == (DOWN, SymptomState.FIRING, Severity.CRITICAL)
    assert down.entity == "service:web"
    assert down.evidence["reason"] == f"pid {pid} killed by SIGKILL"
    assert down.evidence["returncode"] == -signal.SIGKILL
    assert watch.health == "down"


async def test_sigstop_is_unhealthy_within_a_state_check(watched: Watched) -> None:
    watch = watched.web(interval=30, timeout=0.5, failures=3)  # only the state check can see it
    pid = await started(watch)

    os.kill(pid, signal.SIGSTOP)
    frozen = time.monotonic()
    await eventually(lambda: watched.emitted, timeout=3.0)

    assert time.monotonic() - frozen < 1.5
    [unhealthy] = watched.emitted
    assert unhealthy.kind == UNHEALTHY and unhealthy.evidence["state"] == "T"
    assert watch.status()["firing"] == [UNHEALTHY]
    os.kill(pid, signal.SIGCONT)


async def test_probe_failures_count_up_to_unhealthy(watched: Watched) -> None:
    closed = free_port()  # bound, released: nothing listens there
    probe = ProbeConfig(http=f"http://127.0.0.1:{closed}/", interval=0.05, timeout=0.5, failures=3)
    watch = watched.make(SLEEP, probe)
    await watch.handle.start()
    watch.start()

    await eventually(lambda: watched.emitted)
    await asyncio.sleep(0.3)  # more failures follow; the symptom still fires once

    [unhealthy] = watched.emitted
    assert (unhealthy.kind, unhealthy.severity) == (UNHEALTHY, Severity.WARNING)
    assert unhealthy.evidence["failures"] == 3
    assert unhealthy.evidence["probe"] == "connection refused"
    assert watch.failures > 3 and watch.health == "unhealthy"


async def test_nothing_is_reported_during_a_maintenance_window(watched: Watched) -> None:
    watch = watched.web(interval=0.1, timeout=0.3, failures=1)
    await started(watch)
    handle = watch.handle

    with handle.maintenance.window():
        pid = handle.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: "web" not in watched.ledger.entries())  # exit handled
        await handle.start()
        pid = handle.pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        await eventually(lambda: proc_state(pid) == "T")
        await asyncio.sleep(1.2)  # two state checks, several probes
        os.kill(pid, signal.SIGCONT)
        assert (await watch.wait_healthy(timeout=10.0)).ok
    await asyncio.sleep(0.3)

    assert watched.emitted == []
    assert watch.health == "healthy"


async def test_wait_healthy_after_a_restart_clears_what_fired(watched: Watched) -> None:
    watch = watched.web(interval=0.2, timeout=0.5, failures=2)
    pid = await started(watch)
    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: watched.kinds() == [DOWN])

    with watch.handle.maintenance.window():
        await watch.handle.start()
    result = await watch.wait_healthy(timeout=10.0)

    assert result.ok and result.detail.startswith("probe passed in")
    firing, cleared = watched.emitted
    assert cleared.state is SymptomState.CLEARED
    assert (cleared.kind, cleared.clears) == (DOWN, firing.id)
    assert watch.health == "healthy" and watch.status()["firing"] == []


async def test_wait_healthy_without_a_probe_needs_the_process_to_settle(
    watched: Watched,
) -> None:
    watch = watched.make(SLEEP)
    await watch.handle.start()

    too_soon = await watch.wait_healthy(timeout=0.3, settle=1.0)
    begun = time.monotonic()
    settled = await watch.wait_healthy(timeout=5.0, settle=0.5)

    assert not too_soon.ok
    assert settled.ok and settled.detail.endswith("stayed up 0.5s")
    assert time.monotonic() - begun >= 0.5


async def test_wait_healthy_fails_fast_when_the_process_exits(watched: Watched) -> None:
    watch = watched.make(["-c", "import time; time.sleep(0.3)"])
    await watch.handle.start()
    pid = watch.handle.pid()

    begun = time.monotonic()
    result = await watch.wait_healthy(timeout=10.0, settle=5.0)

    assert not result.ok
    assert result.detail == f"pid {pid} exited during verification"
    assert time.monotonic() - begun < 3.0
