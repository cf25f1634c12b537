"""``process.ladder`` on real processes: the victim is chosen by growth, never by size.

Every candidate is a real child of the test. The throttle rung uses the real cgroup
v1 cpu hierarchy (the test's own uniquely named group, removed at the end).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from setpoint.config.models import ServiceConfig
from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext
from setpoint.execute.ladder import ProcessLadder
from setpoint.monitor.service_watch import ServiceWatch
from setpoint.service.children import ChildLedger
from setpoint.service.signals import alive, proc_state
from setpoint.service.supervised import SupervisedProcess

from .procs import (
    BURNER,
    GROWER,
    IGNORE_TERM,
    PY,
    RECORDER,
    STEADY,
    Children,
    cgroup_of,
    eventually,
    remove_group,
    rss,
    settled,
)

V1_CPU = Path("/sys/fs/cgroup/cpu")
needs_v1 = pytest.mark.skipif(
    not os.access(V1_CPU / "cgroup.procs", os.W_OK),
    reason="the cgroup v1 cpu hierarchy is not writable here",
)
FAST = {"window": 1.0, "every": 0.1, "grace": 1.0}


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    yield kids
    kids.cleanup()


@pytest.fixture
def ctx() -> Iterator[ActionContext]:
    """A unique entity; its cpu group, and a ``setpoint/`` parent the test made, go at the end."""
    entity = f"test-{uuid.uuid4().hex[:12]}"
    parent = V1_CPU / "setpoint"
    made = not parent.exists()
    yield ActionContext(entity)
    remove_group(parent / entity)
    if made:
        with contextlib.suppress(OSError):
            parent.rmdir()


def tagged(tag: str) -> str:
    """A cmdline regex for the children started with ``tag`` (and no other process)."""
    return f" {tag}$"


@needs_v1
async def test_the_ladder_picks_the_grower_and_never_touches_the_bigger_steady_one(
    children: Children, ctx: ActionContext, tmp_path: Path
) -> None:
    tag = f"ladder-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "big.log"
    big = children.start(RECORDER.format(log=str(log)) + STEADY.format(size=200), tag)
    grower = children.start(GROWER.format(cap=150, step=0.05), tag)
    await settled(big.pid, 200 << 20)
    await eventually(lambda: rss(grower.pid) > 10 << 20)
    big_before = (cgroup_of(big.pid, "cpu"), os.sched_getaffinity(big.pid))
    assert rss(big.pid) > rss(grower.pid)
    ladder = ProcessLadder(ProcessLadder.Config(match=tagged(tag), **FAST))

    preview = await ladder.preview(ctx)
    assert preview.startswith(f"victim pid {grower.pid} ")
    assert f"spared pid {big.pid}: RSS " in preview
    spared = ladder.ranking[big.pid]
    assert spared.rss > ladder.ranking[grower.pid].rss, "the spared one is the bigger"
    assert spared.rss_slope < ladder.ranking[grower.pid].rss_slope / 4
    assert alive(grower.pid) and cgroup_of(grower.pid, "cpu") == big_before[0]

    done = await ladder.apply(ctx)
    assert (await ladder.verify(ctx)).ok
    assert ladder.victim is not None and ladder.victim.pid == grower.pid
    assert "contained by" in done
    if ladder.rung != "throttle":
        assert grower.wait(timeout=5) in (-signal.SIGTERM, -signal.SIGKILL)

    assert alive(big.pid) and proc_state(big.pid) == "S"
    assert log.read_text() == "ready\n", "the bigger, steady process got a signal"
    assert (cgroup_of(big.pid, "cpu"), os.sched_getaffinity(big.pid)) == big_before
    assert rss(big.pid) > 190 << 20


@needs_v1
async def test_a_cpu_runaway_is_contained_by_the_throttle_and_rollback_lifts_it(
    children: Children, ctx: ActionContext
) -> None:
    tag = f"ladder-{uuid.uuid4().hex[:8]}"
    idle = children.start(STEADY.format(size=100), tag)
    await settled(idle.pid, 100 << 20)
    burner = children.start(BURNER, tag)
    # the burner is past its interpreter start-up and really spinning
    await eventually(lambda: sum(psutil.Process(burner.pid).cpu_times()[:2]) > 0.3, 15)
    origin = cgroup_of(burner.pid, "cpu")
    # thresholds low enough for a loaded machine (other suites may share the CPUs)
    config = ProcessLadder.Config(
        match=tagged(tag), by="cpu", min_cpu=10, throttle_percent=2, **FAST
    )
    ladder = ProcessLadder(config)

    assert burner.poll() is None and idle.poll() is None
    done = await ladder.apply(ctx)

    assert ladder.victim is not None and ladder.victim.pid == burner.pid, done
    assert ladder.rung == "throttle" and done.endswith("contained by throttle")
    assert cgroup_of(burner.pid, "cpu") == f"/setpoint/{ctx.entity}"
    assert cgroup_of(idle.pid, "cpu") == origin
    assert (await ladder.verify(ctx)).ok

    assert "removed" in await ladder.rollback(ctx)
    assert cgroup_of(burner.pid, "cpu") == origin and alive(burner.pid)
    assert not (V1_CPU / "setpoint" / ctx.entity).exists()


async def test_a_grower_that_ignores_sigterm_is_killed(children: Children) -> None:
    grower = children.start(IGNORE_TERM + GROWER.format(cap=150, step=0.05))
    await eventually(lambda: rss(grower.pid) > 10 << 20)
    config = ProcessLadder.Config(pid=grower.pid, rungs=["terminate", "kill"], **FAST)
    ladder = ProcessLadder(config)

    done = await ladder.apply(ActionContext("host"))

    assert "sent SIGTERM" in done and "sent SIGKILL" in done and ladder.rung == "kill"
    assert grower.wait(timeout=5) == -signal.SIGKILL
    assert (await ladder.verify(ActionContext("host"))).ok
    assert "nothing to undo" in await ladder.rollback(ActionContext("host"))


async def test_nothing_growing_means_no_victim(children: Children) -> None:
    tag = f"ladder-{uuid.uuid4().hex[:8]}"
    big = children.start(STEADY.format(size=50), tag)
    await settled(big.pid, 50 << 20)
    ladder = ProcessLadder(ProcessLadder.Config(match=tagged(tag), **FAST))

    with pytest.raises(PreviewFailed, match=rf"no runaway by rss over 1s: pid {big.pid}"):
        await ladder.preview(ActionContext("host"))
    with pytest.raises(ApplyFailed, match="no runaway"):
        await ladder.apply(ActionContext("host"))
    assert alive(big.pid) and proc_state(big.pid) == "S"


async def test_a_service_is_restarted_when_its_process_ignores_sigterm(
    tmp_path: Path,
) -> None:
    code = IGNORE_TERM + GROWER.format(cap=150, step=0.05)
    config = ServiceConfig(command=[PY, "-c", code], stop_timeout=0.5, verify_timeout=5.0)
    handle = SupervisedProcess("hog", config, tmp_path, ChildLedger(tmp_path / "children.json"))
    watch = ServiceWatch(handle, config, None, lambda symptom: None)
    await handle.start()
    try:
        old = handle.pid()
        assert old is not None
        await eventually(lambda: rss(old) > 10 << 20)
        ctx = ActionContext("service:hog", watch)
        ladder = ProcessLadder(ProcessLadder.Config(rungs=["terminate", "restart", "kill"], **FAST))

        assert "rungs terminate -> restart -> kill" in await ladder.preview(ctx)
        done = await ladder.apply(ctx)

        assert ladder.rung == "restart", done
        new = handle.pid()
        assert new is not None and new != old and not alive(old)
        check = await ladder.verify(ctx)
        assert check.ok, check.detail
    finally:
        await asyncio.wait_for(handle.stop(), 10)


async def test_without_a_service_the_restart_rung_is_skipped(children: Children) -> None:
    grower = children.start(GROWER.format(cap=150, step=0.05))
    await eventually(lambda: rss(grower.pid) > 10 << 20)
    ladder = ProcessLadder(
        ProcessLadder.Config(pid=grower.pid, rungs=["restart", "terminate"], **FAST)
    )
    assert "rungs terminate until" in await ladder.preview(ActionContext("host"))
