"""systemd actuators against a recorded ``systemctl`` exchange (a FAKE systemctl).

systemd is not PID 1 here, so ``systemctl`` is a fake: an executable in tmp that
replays a recorded exchange step by step (each step: the argv it must receive, and
the stdout, stderr and exit status systemctl gives, in the formats of systemd 252's
``show -p`` output; a step marked ``repeat`` answers every later poll) and records
every argv it gets. An argv out of order fails the
step with status 99, so each test pins the exact conversation with systemctl.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from setpoint.config.models import ServiceConfig
from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext, Reversible
from setpoint.execute.systemd import (
    SystemdReload,
    SystemdRestart,
    SystemdSetProperty,
    SystemdStart,
    SystemdStop,
)
from setpoint.monitor.service_watch import ServiceWatch
from setpoint.service.systemd import SystemdUnit

FAKE = """\
#!{python}
import json, sys
from pathlib import Path

STATE = Path({state!r})
args = sys.argv[1:]
with open(STATE / "calls.jsonl", "a") as calls:
    calls.write(json.dumps(args) + "\\n")
steps = json.loads((STATE / "exchange.json").read_text())
cursor = int((STATE / "cursor").read_text()) if (STATE / "cursor").exists() else 0
if cursor >= len(steps) or steps[cursor]["argv"] != args:
    print(f"unexpected argv {{args}} at step {{cursor}}", file=sys.stderr)
    sys.exit(99)
step = steps[cursor]
if not step.get("repeat"):
    (STATE / "cursor").write_text(str(cursor + 1))
sys.stdout.write(step.get("stdout", ""))
sys.stderr.write(step.get("stderr", ""))
sys.exit(step.get("rc", 0))
"""

STATE = ["show", "-p", "ActiveState", "-p", "SubState", "-p", "MainPID"]


def state(active: str, sub: str, pid: int) -> str:
    return f"ActiveState={active}\nSubState={sub}\nMainPID={pid}\n"


class Systemctl:
    """The fake binary, the exchange it replays and the argv it heard."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.path = tmp / "systemctl"
        self.path.write_text(FAKE.format(python=sys.executable, state=str(tmp)))
        self.path.chmod(0o755)

    def replay(
        self, *steps: tuple[list[str], str] | tuple[list[str], str, int, str], repeat: bool = False
    ) -> None:
        """Record the exchange; with ``repeat`` the last step answers every later call."""
        exchange: list[dict[str, Any]] = []
        for step in steps:
            argv, out, *rest = step
            rc, err = (rest[0], rest[1]) if rest else (0, "")
            exchange.append({"argv": argv, "stdout": out, "rc": rc, "stderr": err})
        exchange[-1]["repeat"] = repeat
        (self.tmp / "exchange.json").write_text(json.dumps(exchange))

    def calls(self) -> list[list[str]]:
        path = self.tmp / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def done(self) -> bool:
        steps = json.loads((self.tmp / "exchange.json").read_text())
        cursor = self.tmp / "cursor"
        return int(cursor.read_text() if cursor.exists() else 0) == len(steps)


@pytest.fixture
def systemctl(tmp_path: Path) -> Systemctl:
    return Systemctl(tmp_path)


CTX = ActionContext("host")


async def test_restart_preview_changes_nothing_then_apply_and_verify(systemctl: Systemctl) -> None:
    unit = "web.service"
    systemctl.replay(
        ([*STATE, unit], state("active", "running", 101)),
        ([*STATE, unit], state("active", "running", 101)),
        (["restart", unit], ""),
        ([*STATE, unit], state("active", "running", 202)),
    )
    actuator = SystemdRestart(SystemdRestart.Config(unit=unit, systemctl=str(systemctl.path)))

    preview = await actuator.preview(CTX)
    assert preview == (
        "systemctl restart web.service (now ActiveState=active SubState=running MainPID=101)"
    )
    assert systemctl.calls() == [[*STATE, unit]], "preview only reads"

    assert await actuator.apply(CTX) == "systemctl restart web.service"
    check = await actuator.verify(CTX)
    assert check.ok and check.measurements["MainPID"] == "202"
    assert systemctl.done()
    assert not isinstance(actuator, Reversible)


async def test_restart_verify_fails_when_the_main_pid_did_not_change(
    systemctl: Systemctl,
) -> None:
    unit = "web.service"
    systemctl.replay(
        ([*STATE, unit], state("active", "running", 101)),
        (["restart", unit], ""),
        ([*STATE, unit], state("active", "running", 101)),
        repeat=True,
    )
    actuator = SystemdRestart(
        SystemdRestart.Config(unit=unit, systemctl=str(systemctl.path), timeout=0.5)
    )
    await actuator.apply(CTX)
    check = await actuator.verify(CTX)
    assert not check.ok and "MainPID=101" in check.detail


async def test_stop_uses_the_services_unit_and_rollback_starts_it_again(
    systemctl: Systemctl,
) -> None:
    config = ServiceConfig(systemd="db.service")
    watch = ServiceWatch(SystemdUnit("db", config, str(systemctl.path)), config, None, print)
    ctx = ActionContext("service:db", watch)
    unit = "db.service"
    systemctl.replay(
        ([*STATE, unit], state("active", "running", 7)),
        (["stop", unit], ""),
        ([*STATE, unit], state("inactive", "dead", 0)),
        (["start", unit], ""),
    )
    actuator = SystemdStop(SystemdStop.Config(systemctl=str(systemctl.path)))

    await actuator.apply(ctx)
    assert (await actuator.verify(ctx)).ok
    assert isinstance(actuator, Reversible)
    assert await actuator.rollback(ctx) == "systemctl start db.service"
    assert systemctl.done()


async def test_start_rollback_leaves_a_unit_running_that_was_running_before(
    systemctl: Systemctl,
) -> None:
    unit = "web.service"
    systemctl.replay(
        ([*STATE, unit], state("active", "running", 5)),
        (["start", unit], ""),
        ([*STATE, unit], state("active", "running", 5)),
    )
    actuator = SystemdStart(SystemdStart.Config(unit=unit, systemctl=str(systemctl.path)))
    await actuator.apply(CTX)
    assert (await actuator.verify(CTX)).ok
    assert "left running" in await actuator.rollback(CTX)
    assert systemctl.done()


async def test_reload_keeps_the_main_pid(systemctl: Systemctl) -> None:
    unit = "nginx.service"
    systemctl.replay(
        ([*STATE, unit], state("active", "running", 9)),
        (["reload", unit], ""),
        ([*STATE, unit], state("active", "running", 9)),
    )
    actuator = SystemdReload(SystemdReload.Config(unit=unit, systemctl=str(systemctl.path)))
    await actuator.apply(CTX)
    assert (await actuator.verify(CTX)).ok


async def test_a_failing_systemctl_is_an_apply_failure(systemctl: Systemctl) -> None:
    unit = "missing.service"
    systemctl.replay(
        ([*STATE, unit], state("inactive", "dead", 0)),
        (
            ["start", unit],
            "",
            5,
            "Failed to start missing.service: Unit missing.service not found.\n",
        ),
    )
    actuator = SystemdStart(SystemdStart.Config(unit=unit, systemctl=str(systemctl.path)))
    with pytest.raises(ApplyFailed, match=r"exited 5: Failed to start missing\.service: Unit"):
        await actuator.apply(CTX)


async def test_unit_names_can_never_be_options_or_shell(systemctl: Systemctl) -> None:
    for bad in ("--now", "web.service; rm -rf /", "$(touch x)", ""):
        with pytest.raises(ValidationError, match="is not a unit name"):
            SystemdRestart.Config(unit=bad)
    with pytest.raises(PreviewFailed, match="not a systemd service"):
        await SystemdRestart(SystemdRestart.Config(systemctl=str(systemctl.path))).preview(CTX)
    assert systemctl.calls() == []


PROPS = ["show", "-p", "CPUWeight", "-p", "MemoryHigh", "-p", "MemoryMax"]


async def test_set_property_preview_apply_verify_and_rollback_restores(
    systemctl: Systemctl,
) -> None:
    unit = "web.service"
    before = "CPUWeight=[not set]\nMemoryHigh=infinity\nMemoryMax=2147483648\n"
    after = "CPUWeight=50\nMemoryHigh=536870912\nMemoryMax=1073741824\n"
    new = ["CPUWeight=50", "MemoryHigh=512M", "MemoryMax=1G"]
    old = ["CPUWeight=", "MemoryHigh=infinity", "MemoryMax=2147483648"]
    systemctl.replay(
        ([*PROPS, unit], before),
        ([*PROPS, unit], before),
        (["set-property", "--runtime", unit, *new], ""),
        ([*PROPS, unit], after),
        (["set-property", "--runtime", unit, *old], ""),
    )
    config = SystemdSetProperty.Config(
        unit=unit, systemctl=str(systemctl.path), cpu_weight=50, memory_high="512M", memory_max="1G"
    )
    actuator = SystemdSetProperty(config)

    preview = await actuator.preview(CTX)
    assert preview == (
        "systemctl set-property --runtime web.service: CPUWeight [not set] -> 50, "
        "MemoryHigh infinity -> 512M, MemoryMax 2147483648 -> 1G"
    )
    assert len(systemctl.calls()) == 1

    await actuator.apply(CTX)
    check = await actuator.verify(CTX)
    assert check.ok, check.detail
    assert isinstance(actuator, Reversible)
    assert await actuator.rollback(CTX) == f"restored {unit} " + " ".join(old)
    assert systemctl.done()


async def test_set_property_not_in_effect_fails_verify_and_a_failed_rollback_raises(
    systemctl: Systemctl,
) -> None:
    unit = "web.service"
    systemctl.replay(
        ([*["show", "-p", "MemoryMax"], unit], "MemoryMax=infinity\n"),
        (["set-property", "--runtime", unit, "MemoryMax=1G"], ""),
        ([*["show", "-p", "MemoryMax"], unit], "MemoryMax=infinity\n"),
        (["set-property", "--runtime", unit, "MemoryMax=infinity"], "", 1, "Access denied\n"),
    )
    config = SystemdSetProperty.Config(unit=unit, systemctl=str(systemctl.path), memory_max="1G")
    actuator = SystemdSetProperty(config)
    await actuator.apply(CTX)
    check = await actuator.verify(CTX)
    assert not check.ok and "not in effect" in check.detail
    with pytest.raises(RollbackFailed, match="Access denied"):
        await actuator.rollback(CTX)


def test_set_property_params_are_validated() -> None:
    with pytest.raises(ValidationError, match="give cpu_weight, memory_high or memory_max"):
        SystemdSetProperty.Config(unit="a.service")
    with pytest.raises(ValidationError, match="must be bytes"):
        SystemdSetProperty.Config(unit="a.service", memory_max="1G; reboot")
    with pytest.raises(ValidationError):
        SystemdSetProperty.Config(unit="a.service", cpu_weight=0)
