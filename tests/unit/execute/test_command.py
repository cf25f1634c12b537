"""``command.run`` with real processes: argv only, bounded by a timeout, output tail kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from setpoint.errors import ApplyFailed
from setpoint.execute.base import ActionContext
from setpoint.execute.command import CommandRun
from setpoint.service.signals import wait_gone

CTX = ActionContext("host")
PY = sys.executable


async def test_preview_changes_nothing_then_apply_records_the_output(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('x'); print('done ok')"
    actuator = CommandRun(CommandRun.Config(argv=[PY, "-c", code], timeout=10))

    preview = await actuator.preview(CTX)
    assert preview.startswith(f"run {PY} -c ") and preview.endswith("(timeout 10s)")
    assert not marker.exists()

    done = await actuator.apply(CTX)
    assert marker.exists() and done.endswith(": done ok")
    check = await actuator.verify(CTX)
    assert check.ok and check.measurements["output_tail"] == "done ok\n"
    assert check.measurements["returncode"] == 0


async def test_arguments_are_never_interpreted_by_a_shell(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    argv = [PY, "-c", "import sys; print(sys.argv[1:])", f"; touch {pwned}", f"$(touch {pwned})"]
    actuator = CommandRun(CommandRun.Config(argv=argv, cwd=tmp_path))
    await actuator.apply(CTX)
    assert not pwned.exists()
    assert f"$(touch {pwned})" in actuator.output


async def test_only_the_tail_of_a_long_output_is_kept() -> None:
    code = "import sys; sys.stdout.write('a' * 1_000_000 + 'END')"
    actuator = CommandRun(CommandRun.Config(argv=[PY, "-c", code], tail=10))
    await actuator.apply(CTX)
    assert actuator.output == "aaaaaaaEND"


async def test_a_failing_command_raises_with_its_output() -> None:
    code = "import sys; print('disk is full'); sys.exit(3)"
    actuator = CommandRun(CommandRun.Config(argv=[PY, "-c", code]))
    with pytest.raises(ApplyFailed, match=r"exited 3 in .*: disk is full"):
        await actuator.apply(CTX)
    assert not (await actuator.verify(CTX)).ok
    ok3 = CommandRun(CommandRun.Config(argv=[PY, "-c", code], ok_codes=[0, 3]))
    await ok3.apply(CTX)
    assert (await ok3.verify(CTX)).ok


async def test_a_command_over_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    code = (
        "import subprocess, sys, time, pathlib\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"pathlib.Path({str(pidfile)!r}).write_text(str(p.pid))\n"
        "print('started', flush=True); time.sleep(60)\n"
    )
    actuator = CommandRun(CommandRun.Config(argv=[PY, "-c", code], timeout=1.0))
    with pytest.raises(ApplyFailed, match=r"did not finish in 1s; killed: started"):
        await actuator.apply(CTX)
    child = int(pidfile.read_text())
    assert await wait_gone(child, 5.0), "the command's child outlived the timeout"


async def test_a_missing_program_is_an_apply_failure(tmp_path: Path) -> None:
    actuator = CommandRun(CommandRun.Config(argv=[str(tmp_path / "nope")]))
    with pytest.raises(ApplyFailed, match=r"cannot run .*nope: No such file"):
        await actuator.apply(CTX)
    with pytest.raises(ValidationError):
        CommandRun.Config(argv=[])
