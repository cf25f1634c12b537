"""``process.cpu_limit`` and ``process.memory_limit`` on real cgroup v1, and on a fake v2.

cgroup v1 is real here: ``/sys/fs/cgroup/cpu`` and ``/sys/fs/cgroup/memory`` are
writable hierarchies, and each test makes only its own ``setpoint/<entity>`` group,
with a unique entity, and removes it. cgroup v2 with the cpu and memory controllers
is not available on this machine, so v2 is tested against a FAKE cgroupfs tree in
tmp_path whose control files are plain files: it checks what is written where, and
which pid is moved, not what the kernel would enforce. Removing a group is emulated
there with ``shutil.rmtree``, as the kernel removes a group's interface files with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext
from setpoint.execute.process_cgroup import ProcessCpuLimit, ProcessMemoryLimit

from .procs import BURNER, SLEEP, Children, cgroup_of, eventually, remove_group

V1 = Path("/sys/fs/cgroup")
needs_v1 = pytest.mark.skipif(
    not all(os.access(V1 / c / "cgroup.procs", os.W_OK) for c in ("cpu", "memory")),
    reason="the cgroup v1 cpu and memory hierarchies are not writable here",
)


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    yield kids
    kids.cleanup()


@pytest.fixture
def ctx() -> Iterator[ActionContext]:
    """A unique entity; its groups, and a ``setpoint/`` parent the test made, go at the end."""
    entity = f"test-{uuid.uuid4().hex[:12]}"
    parents = [V1 / c / "setpoint" for c in ("cpu", "memory")]
    made = [p for p in parents if not p.exists()]
    yield ActionContext(entity)
    for parent in parents:
        remove_group(parent / entity)
    for parent in made:
        with contextlib.suppress(OSError):  # another test's group may live there now
            parent.rmdir()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@needs_v1
async def test_cpu_limit_v1_caps_a_burner_and_rollback_frees_it(
    children: Children, ctx: ActionContext
) -> None:
    proc = children.start(BURNER)
    group = V1 / "cpu" / "setpoint" / ctx.entity
    origin = cgroup_of(proc.pid, "cpu")
    actuator = ProcessCpuLimit(ProcessCpuLimit.Config(pid=proc.pid, percent=10))

    preview = await actuator.preview(ctx)
    assert f"cgroup v1 {group}: cpu.cfs_period_us=100000 cpu.cfs_quota_us=10000" in preview
    assert not group.exists() and cgroup_of(proc.pid, "cpu") == origin

    await actuator.apply(ctx)
    assert cgroup_of(proc.pid, "cpu") == f"/setpoint/{ctx.entity}"
    assert (group / "cpu.cfs_quota_us").read_text().strip() == "10000"
    check = await actuator.verify(ctx)
    assert check.ok, check.detail
    start = cpu_seconds(proc.pid)
    await asyncio.sleep(1.0)
    used = cpu_seconds(proc.pid) - start
    assert used < 0.3, f"a 10% cap let the burner use {used:.2f}s of CPU in 1s"

    assert "removed" in await actuator.rollback(ctx)
    assert cgroup_of(proc.pid, "cpu") == origin
    assert not group.exists()


@needs_v1
async def test_memory_limit_v1_moves_the_process_and_rollback_restores_its_group(
    children: Children, ctx: ActionContext
) -> None:
    proc = children.start(SLEEP)
    group = V1 / "memory" / "setpoint" / ctx.entity
    origin = cgroup_of(proc.pid, "memory")
    actuator = ProcessMemoryLimit(ProcessMemoryLimit.Config(pid=proc.pid, max="200MiB"))

    preview = await actuator.preview(ctx)
    assert f"memory.limit_in_bytes={200 << 20}" in preview
    assert not group.exists() and cgroup_of(proc.pid, "memory") == origin

    await actuator.apply(ctx)
    assert cgroup_of(proc.pid, "memory") == f"/setpoint/{ctx.entity}"
    assert int((group / "memory.limit_in_bytes").read_text()) == 200 << 20
    assert (await actuator.verify(ctx)).ok

    await actuator.rollback(ctx)
    assert cgroup_of(proc.pid, "memory") == origin
    assert not group.exists()


@needs_v1
async def test_memory_high_is_refused_on_v1(children: Children, ctx: ActionContext) -> None:
    proc = children.start(SLEEP)
    actuator = ProcessMemoryLimit(ProcessMemoryLimit.Config(pid=proc.pid, high="100MiB"))
    with pytest.raises(PreviewFailed, match=r"memory\.high needs cgroup v2"):
        await actuator.preview(ctx)
    with pytest.raises(ApplyFailed, match=r"memory\.high needs cgroup v2"):
        await actuator.apply(ctx)
    assert not (V1 / "memory" / "setpoint" / ctx.entity).exists()


@needs_v1
async def test_children_follow_the_target_into_the_group(
    children: Children, ctx: ActionContext
) -> None:
    spawn = f"subprocess.Popen([sys.executable, '-c', {SLEEP!r}])"
    code = f"import subprocess, sys, time; {spawn}; {SLEEP}"
    parent = children.start(code)
    await eventually(lambda: psutil.Process(parent.pid).children())
    kid = psutil.Process(parent.pid).children()[0].pid
    origin = cgroup_of(kid, "cpu")
    actuator = ProcessCpuLimit(ProcessCpuLimit.Config(pid=parent.pid, percent=50))

    await actuator.apply(ctx)
    assert cgroup_of(kid, "cpu") == cgroup_of(parent.pid, "cpu") == f"/setpoint/{ctx.entity}"
    await actuator.rollback(ctx)
    assert cgroup_of(kid, "cpu") == cgroup_of(parent.pid, "cpu") == origin
    os.kill(kid, 9)


def fake_v2(root: Path, pid: int) -> Path:
    """A FAKE v2 tree: plain files where the kernel would have interface files.

    The pid's real ``/proc/<pid>/cgroup`` reads ``0::/`` (no v2 group), so its origin
    in the fake tree is the tree's root.
    """
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu memory io pids\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text(f"{pid}\n")
    return root


async def test_cpu_and_memory_limits_on_a_fake_v2_tree(children: Children, tmp_path: Path) -> None:
    proc = children.start(SLEEP)
    root = fake_v2(tmp_path / "cgroup", proc.pid)
    ctx = ActionContext("service:web")
    group = root / "setpoint" / "service-web"
    common = {"pid": proc.pid, "cgroup_root": root}
    cpu = ProcessCpuLimit(ProcessCpuLimit.Config(**common, percent=25), rmdir=shutil.rmtree)
    mem = ProcessMemoryLimit(
        ProcessMemoryLimit.Config(**common, max="512MiB", high="400MiB"), rmdir=shutil.rmtree
    )

    assert f"cgroup v2 {group}: cpu.max=25000 100000" in await cpu.preview(ctx)
    assert not group.exists()

    await cpu.apply(ctx)
    await mem.apply(ctx)
    # a plain file keeps only the last write ("+cpu" came first); the kernel's adds up
    assert (root / "cgroup.subtree_control").read_text() == "+memory\n"
    assert (root / "setpoint" / "cgroup.subtree_control").read_text() == "+memory\n"
    assert (group / "cpu.max").read_text() == "25000 100000\n"
    assert (group / "memory.max").read_text() == f"{512 << 20}\n"
    assert (group / "memory.high").read_text() == f"{400 << 20}\n"
    assert (group / "cgroup.procs").read_text() == f"{proc.pid}\n"

    await mem.rollback(ctx)
    assert (root / "cgroup.procs").read_text() == f"{proc.pid}\n"
    assert not group.exists()


async def test_a_missing_hierarchy_is_a_clear_preview_failure(
    children: Children, tmp_path: Path
) -> None:
    proc = children.start(SLEEP)
    actuator = ProcessCpuLimit(
        ProcessCpuLimit.Config(pid=proc.pid, percent=50, cgroup_root=tmp_path)
    )
    with pytest.raises(PreviewFailed, match="no cgroup cpu controller here"):
        await actuator.preview(ActionContext("x"))
