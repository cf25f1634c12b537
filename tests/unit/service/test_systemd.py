"""SystemdUnit against a recorded fake ``systemctl``.

systemd is not PID 1 here (the machine runs a plain init), so the exchange with
``systemctl`` is a fake: an executable Python script in tmp that replays the answers
real systemctl gives (``show --property=MainPID --value`` prints the pid or 0, an
unknown unit fails with status 5) and records every argv it gets. The processes
behind it are real: ``start`` starts one, ``stop`` terminates it, and the unit's
exits are heard through a pidfd as they would be under systemd.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
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
from setpoint.model import Symptom
from setpoint.monitor.service_watch import ServiceWatch
from setpoint.service.base import ExitInfo
from setpoint.service.signals import alive
from setpoint.service.systemd import SystemdUnit

PY = sys.executable
FAKE_SYSTEMCTL = """\
#!{python}
import json, os, signal, subprocess, sys, time
from pathlib import Path

STATE, UNIT, MARKER = Path({state!r}), {unit!r}, {marker!r}
args = sys.argv[1:]
with open(STATE / "calls.jsonl", "a") as calls:
    calls.write(json.dumps(args) + "\\n")


def main_pid():
    try:
        return int((STATE / "MainPID").read_text())
    except (OSError, ValueError):
        return 0


def gone(pid):
    try:
        stat = Path(f"/proc/{{pid}}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


verb, unit = (args[0], args[-1]) if args else ("", "")
if (STATE / "bus-down").exists():
    print("Failed to connect to bus: No such file or directory", file=sys.stderr)
    sys.exit(1)
elif verb == "show" and args[1:3] == ["--property=MainPID", "--value"]:
    print(main_pid() if unit == UNIT else 0)
elif verb in ("start", "stop") and unit != UNIT:
    how = "found" if verb == "start" else "loaded"
    print(f"Failed to {{verb}} {{unit}}: Unit {{unit}} not {{how}}.", file=sys.stderr)
    sys.exit(5)
elif verb == "start":
    if main_pid() == 0 or gone(main_pid()):
        proc = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)", MARKER],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        (STATE / "MainPID").write_text(str(proc.pid))
elif verb == "stop":
    pid = main_pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 5
        while not gone(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
    (STATE / "MainPID").write_text("0")
else:
    print(f"Unknown command verb {{verb}}.", file=sys.stderr)
    sys.exit(1)
"""


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


class FakeSystemd:
    """The fake systemctl, its state dir, and the real process it reports as MainPID."""

    def __init__(self, tmp: Path, unit: str = "web.service") -> None:
        self.tmp, self.unit = tmp, unit
        self.marker = f"setpoint-unit-{uuid.uuid4().hex}"
        self.systemctl = tmp / "systemctl"
        text = FAKE_SYSTEMCTL.format(python=PY, state=str(tmp), unit=unit, marker=self.marker)
        self.systemctl.write_text(text)
        self.systemctl.chmod(0o755)
        self.first: subprocess.Popen[bytes] | None = None
        self.handles: list[SystemdUnit] = []

    def run_first(self) -> int:
        """Start the unit's first main process as the test's own child."""
        argv = [PY, "-c", "import time; time.sleep(60)", self.marker]
        self.first = subprocess.Popen(argv, start_new_session=True)
        self.main_pid = self.first.pid
        return self.first.pid

    @property
    def main_pid(self) -> int:
        path = self.tmp / "MainPID"
        return int(path.read_text()) if path.exists() else 0

    @main_pid.setter
    def main_pid(self, pid: int) -> None:
        (self.tmp / "MainPID").write_text(str(pid))

    def calls(self) -> list[list[str]]:
        path = self.tmp / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def handle(self, unit: str | None = None) -> SystemdUnit:
        config = ServiceConfig(systemd=unit or self.unit, verify_timeout=10)
        self.handles.append(SystemdUnit("web", config, systemctl=str(self.systemctl)))
        return self.handles[-1]

    def cleanup(self) -> None:
        """Release the pidfds, kill what carries this test's marker, reap the own child."""
        for handle in self.handles:
            handle.close()
        for entry in os.scandir("/proc"):
            with contextlib.suppress(OSError):
                raw = Path(entry.path, "cmdline").read_bytes()
                if entry.name.isdigit() and self.marker.encode() in raw:
                    os.kill(int(entry.name), signal.SIGKILL)
        if self.first is not None:
            if self.first.poll() is None:
                os.kill(self.first.pid, signal.SIGKILL)
            self.first.wait(timeout=5)


@pytest.fixture
async def systemd(tmp_path: Path) -> AsyncIterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path)
    yield fake
    fake.cleanup()


SHOW = ["show", "--property=MainPID", "--value"]


async def test_refresh_learns_the_main_pid(systemd: FakeSystemd) -> None:
    pid = systemd.run_first()
    handle = systemd.handle()

    assert await handle.refresh() == pid
    assert handle.pid() == pid
    assert handle.describe() == {"kind": "systemd", "unit": "web.service", "pid": pid}
    assert systemd.calls() == [[*SHOW, "web.service"]]


async def test_an_inactive_unit_has_no_pid(systemd: FakeSystemd) -> None:
    handle = systemd.handle()

    assert await handle.refresh() is None
    assert handle.pid() is None


async def test_on_exit_hears_the_main_process_die(systemd: FakeSystemd) -> None:
    pid = systemd.run_first()
    handle = systemd.handle()
    exits: list[ExitInfo] = []
    handle.on_exit(exits.append)
    await handle.refresh()

    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: exits)

    assert exits == [ExitInfo(pid, None, expected=False)]
    assert handle.pid() is None


async def test_stop_runs_systemctl_stop_and_the_exit_is_expected(systemd: FakeSystemd) -> None:
    pid = systemd.run_first()
    handle = systemd.handle()
    exits: list[ExitInfo] = []
    handle.on_exit(exits.append)
    await handle.refresh()

    with handle.maintenance.window():
        await handle.stop()
        await eventually(lambda: exits, timeout=2.0)

    assert systemd.calls()[-1] == ["stop", "web.service"]
    assert not alive(pid) and handle.pid() is None
    assert exits == [ExitInfo(pid, None, expected=True)]


async def test_start_runs_systemctl_start_then_learns_the_new_pid(systemd: FakeSystemd) -> None:
    old = systemd.run_first()
    handle = systemd.handle()
    await handle.refresh()

    with handle.maintenance.window():
        await handle.stop()
        await handle.start()

    new = handle.pid()
    assert new is not None and new != old and alive(new)
    assert new == systemd.main_pid
    assert handle.starts == 1
    assert systemd.calls()[1:] == [
        ["stop", "web.service"],
        ["start", "web.service"],
        [*SHOW, "web.service"],
    ]


async def test_a_failing_systemctl_raises_apply_failed(systemd: FakeSystemd) -> None:
    handle = systemd.handle("missing.service")

    with pytest.raises(ApplyFailed, match=r"exited 5: Failed to start missing.service: Unit"):
        await handle.start()
    assert handle.starts == 0


async def test_a_missing_systemctl_raises_apply_failed(tmp_path: Path) -> None:
    config = ServiceConfig(systemd="web.service")
    handle = SystemdUnit("web", config, systemctl=str(tmp_path / "no-systemctl"))

    with pytest.raises(ApplyFailed, match="cannot run"):
        await handle.refresh()


async def test_argv_never_goes_through_a_shell(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    unit = f"web.service; touch {pwned} $(touch {pwned}) `touch {pwned}`"
    fake = FakeSystemd(tmp_path, unit=unit)
    try:
        handle = fake.handle()
        await handle.refresh()
        with handle.maintenance.window():
            await handle.start()
            await handle.stop()
    finally:
        fake.cleanup()

    assert not pwned.exists()
    assert fake.calls() == [[*SHOW, unit], ["start", unit], [*SHOW, unit], ["stop", unit]]


async def test_the_watch_outlives_a_failing_systemctl(systemd: FakeSystemd) -> None:
    """A refresh that fails (bus down) skips one state check; it must not end the watch."""
    handle = systemd.handle()
    emitted: list[Symptom] = []
    watch = ServiceWatch(handle, handle.config, None, emitted.append, state_every=0.05)
    (systemd.tmp / "bus-down").touch()
    watch.start()
    try:
        await eventually(lambda: len(systemd.calls()) >= 2)
        pid = systemd.run_first()
        (systemd.tmp / "bus-down").unlink()

        await eventually(lambda: handle.pid() == pid)
        await eventually(lambda: watch.health == "healthy")
    finally:
        await watch.aclose()
    assert emitted == [], "an unanswered question is not a down service"
