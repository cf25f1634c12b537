"""``process.signal`` and ``process.affinity`` on real child processes."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext, Reversible
from setpoint.execute.process import ProcessAffinity, ProcessSignal
from setpoint.service.signals import alive, proc_state

from .procs import RECORDER, SLEEP, Children, eventually

CTX = ActionContext("host")


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    yield kids
    kids.cleanup()


async def test_signal_preview_changes_nothing_and_apply_ends_the_process(
    children: Children,
) -> None:
    proc = children.start(SLEEP)
    actuator = ProcessSignal(ProcessSignal.Config(pid=proc.pid, signal="TERM"))

    preview = await actuator.preview(CTX)
    assert preview.startswith(f"send SIGTERM to pid {proc.pid} (")
    assert alive(proc.pid) and proc.poll() is None

    assert await actuator.apply(CTX) == f"sent SIGTERM to pid {proc.pid}"
    check = await actuator.verify(CTX)
    assert check.ok, check.detail
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert not isinstance(actuator, Reversible)


async def test_signal_by_match_reaches_every_matching_process_and_no_other(
    children: Children, tmp_path: Path
) -> None:
    logs = [tmp_path / f"{i}.log" for i in range(3)]
    tag = f"setpoint-test-{os.getpid()}-{id(logs)}"
    code = RECORDER.format(log="{log}") + "import time; time.sleep(60)"
    for log in logs:
        children.start(code.format(log=str(log)), tag if log != logs[2] else "bystander")
    actuator = ProcessSignal(ProcessSignal.Config(match=tag, signal="SIGUSR1"))
    await eventually(lambda: all(p.exists() for p in logs))

    await actuator.apply(CTX)

    assert (await actuator.verify(CTX)).ok
    await eventually(lambda: all(p.read_text() == "ready\nSIGUSR1\n" for p in logs[:2]))
    assert logs[2].read_text() == "ready\n", "the bystander got a signal"


async def test_sigstop_is_verified_as_stopped_and_sigcont_as_running(children: Children) -> None:
    proc = children.start(SLEEP)
    stop = ProcessSignal(ProcessSignal.Config(pid=proc.pid, signal="STOP"))
    await stop.apply(CTX)
    assert (await stop.verify(CTX)).ok and proc_state(proc.pid) == "T"

    cont = ProcessSignal(ProcessSignal.Config(pid=proc.pid, signal="CONT"))
    await cont.apply(CTX)
    assert (await cont.verify(CTX)).ok and proc_state(proc.pid) != "T"


async def test_signal_verify_fails_when_the_process_ignores_it(children: Children) -> None:
    proc = children.start("import signal, time; signal.signal(15, signal.SIG_IGN); time.sleep(60)")
    await eventually(lambda: proc_state(proc.pid) == "S")
    actuator = ProcessSignal(ProcessSignal.Config(pid=proc.pid, verify_timeout=0.3))
    await actuator.apply(CTX)

    check = await actuator.verify(CTX)
    assert not check.ok and "not exit after 0.3s" in check.detail
    assert alive(proc.pid)


async def test_signal_errors_are_actuation_errors(children: Children) -> None:
    with pytest.raises(ValidationError, match="is not a signal name"):
        ProcessSignal.Config(pid=1, signal="SIGNOPE")
    proc = children.start("pass")
    proc.wait(timeout=5)
    gone = ProcessSignal(ProcessSignal.Config(pid=proc.pid))
    with pytest.raises(PreviewFailed, match=f"pid {proc.pid} does not exist"):
        await gone.preview(CTX)
    with pytest.raises(ApplyFailed, match="does not exist"):
        await gone.apply(CTX)
    with pytest.raises(PreviewFailed, match="give pid or match"):
        await ProcessSignal().preview(CTX)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable CPUs")
async def test_affinity_preview_apply_verify_rollback(children: Children) -> None:
    proc = children.start(SLEEP)
    before = os.sched_getaffinity(proc.pid)
    cpu = min(before)
    actuator = ProcessAffinity(ProcessAffinity.Config(pid=proc.pid, cpus=[cpu]))

    preview = await actuator.preview(CTX)
    assert f"CPUs {sorted(before)} -> [{cpu}]" in preview
    assert os.sched_getaffinity(proc.pid) == before

    await actuator.apply(CTX)
    assert os.sched_getaffinity(proc.pid) == {cpu}
    assert (await actuator.verify(CTX)).ok

    assert isinstance(actuator, Reversible)
    assert "restored" in await actuator.rollback(CTX)
    assert os.sched_getaffinity(proc.pid) == before


async def test_affinity_refuses_cpus_that_do_not_exist(children: Children) -> None:
    proc = children.start(SLEEP)
    actuator = ProcessAffinity(ProcessAffinity.Config(pid=proc.pid, cpus=[4096]))
    with pytest.raises(PreviewFailed, match=r"CPU \[4096\] not available"):
        await actuator.preview(CTX)
    with pytest.raises(ApplyFailed, match="not available"):
        await actuator.apply(CTX)
