"""SupervisedProcess and ChildLedger against real child processes started by the test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psutil
import pytest

from setpoint.config.models import ServiceConfig
from setpoint.service.base import ExitInfo
from setpoint.service.children import ChildLedger
from setpoint.service.signals import alive, proc_state
from setpoint.service.supervised import SupervisedProcess

PY = sys.executable
SLEEP = "import time; time.sleep(60)"
IGNORE_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)
GRANDCHILD = (
    "import subprocess, time; p = subprocess.Popen(['sleep', '30']); "
    "print(p.pid, flush=True); time.sleep(60)"
)


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


class Supervisor:
    """Makes SupervisedProcess handles in one tmp dir and stops every one at the end."""

    def __init__(self, tmp: Path) -> None:
        self.log_dir = tmp / "services"
        self.ledger = ChildLedger(tmp / "children.json")
        self.handles: list[SupervisedProcess] = []
        self.exits: list[ExitInfo] = []

    def make(self, code: str, stop_timeout: float = 5.0, name: str = "web") -> SupervisedProcess:
        return self.make_argv([PY, "-c", code], stop_timeout, name)

    def make_argv(
        self, argv: list[str], stop_timeout: float = 5.0, name: str = "web"
    ) -> SupervisedProcess:
        config = ServiceConfig(command=argv, stop_timeout=stop_timeout)
        handle = SupervisedProcess(name, config, self.log_dir, self.ledger)
        handle.on_exit(self.exits.append)
        self.handles.append(handle)
        return handle

    def log(self, name: str = "web") -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture
async def sup(tmp_path: Path) -> AsyncIterator[Supervisor]:
    supervisor = Supervisor(tmp_path)
    yield supervisor
    for handle in supervisor.handles:
        pid = handle.pid()
        if pid is not None:  # a group the test started and left running: kill it by its pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        await asyncio.wait_for(handle.stop(), 10)


async def test_start_records_the_child_in_the_ledger(sup: Supervisor) -> None:
    handle = sup.make(SLEEP)
    await handle.start()
    pid = handle.pid()

    assert pid is not None and alive(pid)
    assert os.getpgid(pid) == pid, "the child leads its own process group"
    entry = sup.ledger.entries()["web"]
    assert entry["pid"] == pid
    assert entry["create_time"] == psutil.Process(pid).create_time()
    assert (sup.log_dir / "web.log").exists()

    await handle.start()
    assert handle.pid() == pid and handle.starts == 1, "start is a no-op while the child runs"


async def test_kill_9_is_an_unexpected_exit(sup: Supervisor) -> None:
    handle = sup.make(SLEEP)
    await handle.start()
    pid = handle.pid()
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: sup.exits)

    assert sup.exits == [ExitInfo(pid, -signal.SIGKILL, expected=False)]
    assert handle.pid() is None
    assert "web" not in sup.ledger.entries()


async def test_a_command_that_exits_at_once_still_starts_and_reports_its_exit(
    sup: Supervisor,
) -> None:
    """The child may be reaped before it is recorded; start must not fail for that."""
    true = shutil.which("true")
    assert true is not None
    for _ in range(100):  # the race is lost a few times in a hundred
        await sup.make_argv([true]).start()
    await eventually(lambda: len(sup.exits) == 100)

    assert {(e.returncode, e.expected) for e in sup.exits} == {(0, False)}
    assert sup.ledger.entries() == {}


async def test_stop_is_an_expected_exit_by_sigterm(sup: Supervisor) -> None:
    handle = sup.make(SLEEP)
    await handle.start()
    pid = handle.pid()
    assert pid is not None

    await handle.stop()

    assert sup.exits == [ExitInfo(pid, -signal.SIGTERM, expected=True)]
    assert handle.pid() is None and not alive(pid)
    assert sup.ledger.entries() == {}


async def test_stop_continues_a_stopped_child_then_terminates_it(sup: Supervisor) -> None:
    handle = sup.make(SLEEP, stop_timeout=5.0)
    await handle.start()
    pid = handle.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    await eventually(lambda: proc_state(pid) == "T")

    started = time.monotonic()
    await handle.stop()

    assert time.monotonic() - started < 2.0, "SIGTERM did it, no grace period was waited out"
    assert sup.exits == [ExitInfo(pid, -signal.SIGTERM, expected=True)]


async def test_stop_escalates_to_sigkill_after_stop_timeout(sup: Supervisor) -> None:
    handle = sup.make(IGNORE_TERM, stop_timeout=0.3)
    await handle.start()
    pid = handle.pid()
    assert pid is not None
    await eventually(lambda: "ready" in sup.log())  # SIGTERM is ignored from here on

    started = time.monotonic()
    await handle.stop()
    took = time.monotonic() - started

    assert 0.3 <= took < 3.0
    assert sup.exits == [ExitInfo(pid, -signal.SIGKILL, expected=True)]


async def test_stop_takes_the_whole_process_group(sup: Supervisor) -> None:
    handle = sup.make(GRANDCHILD)
    await handle.start()
    pid = handle.pid()
    assert pid is not None
    await eventually(lambda: sup.log().strip().isdigit())
    grandchild = int(sup.log().strip())
    try:
        assert alive(grandchild) and os.getpgid(grandchild) == pid

        await handle.stop()

        await eventually(lambda: not alive(grandchild), timeout=3.0)
    finally:
        if alive(grandchild):  # the test's own grandchild, by pid
            os.kill(grandchild, signal.SIGKILL)


@pytest.fixture
def spawned() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Plain child processes in sessions of their own, killed and reaped at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(code: str = SLEEP) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([PY, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        assert proc.stdout is not None
        proc.stdout.close()


def test_reap_orphans_stops_a_recorded_live_child(
    tmp_path: Path, spawned: Callable[..., subprocess.Popen[bytes]]
) -> None:
    ledger = ChildLedger(tmp_path / "children.json")
    proc = spawned()
    ledger.add("web", proc.pid)

    stopped = ledger.reap_orphans(grace=5.0)

    assert stopped == [proc.pid]
    assert not alive(proc.pid)
    assert ledger.entries() == {}


def test_reap_orphans_kills_a_child_that_ignores_sigterm(
    tmp_path: Path, spawned: Callable[..., subprocess.Popen[bytes]]
) -> None:
    ledger = ChildLedger(tmp_path / "children.json")
    proc = spawned(IGNORE_TERM)
    assert proc.stdout is not None
    assert select.select([proc.stdout], [], [], 5.0)[0], "the child did not get ready in 5 s"
    assert proc.stdout.readline() == b"ready\n"  # SIGTERM is ignored from here on
    ledger.add("web", proc.pid)

    assert ledger.reap_orphans(grace=0.3) == [proc.pid]
    assert proc.wait(timeout=5) is not None
    assert not alive(proc.pid)


def test_reap_orphans_ignores_a_pid_with_another_start_time(
    tmp_path: Path, spawned: Callable[..., subprocess.Popen[bytes]]
) -> None:
    ledger = ChildLedger(tmp_path / "children.json")
    proc = spawned()
    recycled = psutil.Process(proc.pid).create_time() - 100.0
    ledger.path.write_text(json.dumps({"web": {"pid": proc.pid, "create_time": recycled}}))

    assert ledger.reap_orphans(grace=0.5) == []
    assert proc.poll() is None and alive(proc.pid), "a recycled pid is never touched"
    assert ledger.entries() == {}


def test_reap_orphans_skips_gone_and_unreadable_entries(tmp_path: Path) -> None:
    ledger = ChildLedger(tmp_path / "children.json")
    proc = subprocess.Popen([PY, "-c", "pass"])
    proc.wait(timeout=10)
    ledger.path.write_text(json.dumps({"gone": {"pid": proc.pid, "create_time": 1.0}}))
    assert ledger.reap_orphans() == []

    ledger.path.write_text("not json")
    assert ledger.entries() == {}
    assert ledger.reap_orphans() == []
