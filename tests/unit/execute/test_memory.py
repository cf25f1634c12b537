"""``memory.drop_caches`` and ``memory.compact``, on this machine's real ``/proc``.

This VM runs the tests as root with a writable ``/proc/sys``, so both really run
here (the kernel drops its clean caches and compacts memory; neither changes what
any process holds). Where that is not permitted, the refusal is real too: a
``proc_root`` in tmp whose ``sys/vm/<knob>`` links to ``/proc/sys/kernel/osrelease``,
a sysctl the kernel keeps read-only even for root.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext, Reversible
from setpoint.execute.memory import MemoryCompact, MemoryDropCaches

CTX = ActionContext("host")
REAL = Path("/proc/sys/vm")
writable = pytest.mark.skipif(
    not os.access(REAL / "drop_caches", os.W_OK) or not os.access(REAL / "compact_memory", os.W_OK),
    reason="/proc/sys/vm is not writable here (not root, or a read-only /proc/sys)",
)


@writable
async def test_drop_caches_really_runs_here() -> None:
    actuator = MemoryDropCaches(MemoryDropCaches.Config(what=1))

    preview = await actuator.preview(CTX)
    assert preview.startswith("sync, then write 1 to /proc/sys/vm/drop_caches: drop the page cache")

    assert await actuator.apply(CTX) == "dropped the page cache"
    check = await actuator.verify(CTX)
    assert check.ok and check.measurements["cached_before"] is not None
    assert not isinstance(actuator, Reversible)


@writable
async def test_compact_really_runs_here() -> None:
    actuator = MemoryCompact()
    assert "compact_memory" in await actuator.preview(CTX)
    assert await actuator.apply(CTX) == "compacted memory"
    assert (await actuator.verify(CTX)).ok


@pytest.mark.parametrize("knob", ["drop_caches", "compact_memory"])
async def test_not_permitted_is_reported_cleanly(tmp_path: Path, knob: str) -> None:
    (tmp_path / "sys" / "vm").mkdir(parents=True)
    (tmp_path / "sys" / "vm" / knob).symlink_to("/proc/sys/kernel/osrelease")
    actuator = (
        MemoryDropCaches(MemoryDropCaches.Config(proc_root=tmp_path))
        if knob == "drop_caches"
        else MemoryCompact(MemoryCompact.Config(proc_root=tmp_path))
    )

    with pytest.raises(PreviewFailed, match=f"not permitted here: .*{knob} is not writable"):
        await actuator.preview(CTX)
    with pytest.raises(ApplyFailed, match="not permitted here"):
        await actuator.apply(CTX)
    assert not (await actuator.verify(CTX)).ok


async def test_a_missing_knob_is_not_permitted(tmp_path: Path) -> None:
    actuator = MemoryCompact(MemoryCompact.Config(proc_root=tmp_path))
    with pytest.raises(PreviewFailed, match=r"not permitted here: .* does not exist"):
        await actuator.preview(CTX)
