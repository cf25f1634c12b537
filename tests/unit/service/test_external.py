"""ExternalProcess against real detached processes, found by pid file or by cmdline.

Each service process is started by a launcher script in tmp (as a real ``restart``
command would): it runs ``sleep`` in a new session, writes the pid file and exits,
so the service is not the test's child. A unique marker in the service's argv lets
``match`` find it and lets the teardown kill exactly what the test started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from setpoint.config.models import ServiceConfig
from setpoint.errors import ApplyFailed
from setpoint.service.base import ExitInfo
from setpoint.service.external import ExternalProcess, find_pid
from setpoint.service.signals import alive, proc_state

PY = sys.executable
LAUNCHER = """\
import subprocess, sys
from pathlib import Path

proc = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}],
    start_new_session=True,
    stdin=subprocess.DEVNULL,
    {output}
)
Path({pid_file!r}).write_text(str(proc.pid))
print("started", proc.pid)
"""
DETACHED = "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,"


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Service:
    """A throwaway service started by a launcher script; every copy is killed at the end."""

    def __init__(self, tmp: Path) -> None:
        self.marker = f"setpoint-ext-{uuid.uuid4().hex}"
        self.pid_file = tmp / "service.pid"
        self.launcher = tmp / "launch.py"
        self.write_launcher(DETACHED)
        self.handles: list[ExternalProcess] = []

    def write_launcher(self, output: str) -> None:
        text = LAUNCHER.format(marker=self.marker, pid_file=str(self.pid_file), output=output)
        self.launcher.write_text(text)

    @property
    def restart(self) -> list[str]:
        return [PY, str(self.launcher)]

    def launch(self) -> int:
        subprocess.run(self.restart, check=True, timeout=10, capture_output=True)
        return int(self.pid_file.read_text())

    def handle(self, by: str = "pid_file", **extra: object) -> ExternalProcess:
        how: dict[str, object] = (
            {"pid_file": self.pid_file} if by == "pid_file" else {"match": re.escape(self.marker)}
        )
        config = ServiceConfig.model_validate({**how, "restart": self.restart, **extra})
        self.handles.append(ExternalProcess("ext", config))
        return self.handles[-1]

    def kill_all(self) -> None:
        """Release the pidfds and kill every process with this test's marker (its own)."""
        for handle in self.handles:
            handle.close()
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and self.marker in cmdline(int(entry.name)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGCONT)
                    os.kill(int(entry.name), signal.SIGKILL)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    svc = Service(tmp_path)
    yield svc
    svc.kill_all()


async def test_found_by_pid_file(service: Service) -> None:
    pid = service.launch()
    handle = service.handle()

    assert handle.pid() == pid
    assert handle.describe() == {
        "kind": "pid_file",
        "pid": pid,
        "match": None,
        "pid_file": str(service.pid_file),
    }


async def test_a_stale_pid_file_finds_nothing(service: Service) -> None:
    pid = service.launch()
    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: not alive(pid))

    assert service.handle().pid() is None
    assert find_pid(None, service.pid_file.with_name("missing.pid")) is None


async def test_found_by_match(service: Service) -> None:
    pid = service.launch()
    handle = service.handle(by="match")

    assert handle.pid() == pid
    assert service.marker in cmdline(pid)
    assert find_pid(re.escape(service.marker) + "-nobody-runs-this", None) is None


async def test_on_exit_hears_a_kill_through_the_pidfd(service: Service) -> None:
    pid = service.launch()
    handle = service.handle(by="match")
    exits: list[ExitInfo] = []
    handle.on_exit(exits.append)
    assert handle.pid() == pid  # finding it arms the watch

    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: exits)

    assert exits == [ExitInfo(pid, None, expected=False)]
    assert handle.pid() is None


async def test_stop_terminates_it_as_an_expected_exit(service: Service) -> None:
    pid = service.launch()
    handle = service.handle(stop_timeout=5.0)
    exits: list[ExitInfo] = []
    handle.on_exit(exits.append)
    os.kill(pid, signal.SIGSTOP)  # a frozen process must be continued to hear SIGTERM
    await eventually(lambda: proc_state(pid) == "T")

    started = time.monotonic()
    with handle.maintenance.window():
        await handle.stop()
        await eventually(lambda: exits, timeout=2.0)

    assert time.monotonic() - started < 3.0, "SIGTERM did it, no grace period was waited out"
    assert not alive(pid)
    assert exits == [ExitInfo(pid, None, expected=True)]


async def test_start_runs_the_restart_argv_and_pid_finds_the_new_process(
    service: Service,
) -> None:
    old = service.launch()
    handle = service.handle(by="match")
    assert handle.pid() == old

    with handle.maintenance.window():
        await handle.stop()
        await handle.start()

    new = handle.pid()
    assert new is not None and new != old
    assert new == int(service.pid_file.read_text())
    assert alive(new) and not alive(old)
    assert handle.starts == 1


async def test_start_returns_when_the_command_exits_though_the_service_keeps_its_output(
    service: Service,
) -> None:
    service.write_launcher("")  # the service inherits the restart command's stdout
    handle = service.handle(verify_timeout=5.0)

    started = time.monotonic()
    await handle.start()

    assert time.monotonic() - started < 3.0, "start waited for EOF instead of the exit"
    assert handle.pid() == int(service.pid_file.read_text())


async def test_a_failing_restart_argv_raises_apply_failed_with_its_exit_code(
    service: Service,
) -> None:
    failing = [PY, "-c", "import sys; print('unit web not found'); sys.exit(3)"]
    handle = service.handle(restart=failing)

    with pytest.raises(ApplyFailed, match=r"exited 3: unit web not found"):
        await handle.start()
    assert handle.starts == 0


async def test_a_restart_argv_that_cannot_run_raises_apply_failed(
    service: Service, tmp_path: Path
) -> None:
    handle = service.handle(restart=[str(tmp_path / "no-such-binary")])

    with pytest.raises(ApplyFailed, match="cannot run restart for ext"):
        await handle.start()


async def test_a_restart_argv_that_hangs_is_killed_after_verify_timeout(
    service: Service,
) -> None:
    hanging = [PY, "-c", "import time; time.sleep(30)"]
    handle = service.handle(restart=hanging, verify_timeout=0.3)

    started = time.monotonic()
    with pytest.raises(ApplyFailed, match="did not finish in time"):
        await handle.start()
    assert time.monotonic() - started < 3.0


async def test_pid_may_be_asked_from_another_thread_and_the_loop_arms_the_watch(
    service: Service,
) -> None:
    """The API's sync routes read ``status()`` on a worker thread; that must not fail."""
    pid = service.launch()
    handle = service.handle()
    exits: list[ExitInfo] = []
    handle.on_exit(exits.append)

    assert await asyncio.to_thread(handle.pid) == pid
    assert handle.pid() == pid  # back on the loop: the exit watch is armed now

    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: exits)
    assert exits == [ExitInfo(pid, None, expected=False)]
