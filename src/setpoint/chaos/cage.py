"""The memory limit the chaos victim and bystander live under, so a leak never reaches the host.

Where a memory cgroup can be made (root, cgroup v1 or v2), the run makes its own,
``setpoint/chaos-<run id>`` with a :data:`LIMIT_MIB` limit; both services join it, so
the victim's leak runs into a real kernel limit beside a bigger, steady neighbour,
and the kernel's OOM kills in it are counted. Elsewhere each of them limits its own
address space (``RLIMIT_AS``) to :data:`RLIMIT_MIB`. The group is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import psutil

from setpoint.execute.cgroups import Cgroup
from setpoint.monitor.cgroup import MemoryLimit, memory_limit

MIB = 2**20
LIMIT_MIB = 448
RLIMIT_MIB = 640
CGROUP_ROOT = Path("/sys/fs/cgroup")
_LIMIT_FILE = {"v1": "memory.limit_in_bytes", "v2": "memory.max"}
_EVENTS_FILE = {"v1": "memory.oom_control", "v2": "memory.events"}


@dataclass
class MemoryCage:
    """A memory cgroup of the run's own, or (``group`` None) a per-process RLIMIT_AS."""

    limit: int
    group: Cgroup | None = None
    made_parent: bool = False

    @classmethod
    def make(cls, run_id: str, root: Path = CGROUP_ROOT) -> MemoryCage:
        """The run's cgroup with its limit set; the RLIMIT_AS cage if none can be made."""
        limit = LIMIT_MIB * MIB
        try:
            group = Cgroup.open(root, "memory", f"chaos-{run_id}", "auto", Path("/proc"))
            parent_existed = group.path.parent.is_dir()
            group.create()
        except OSError:
            return cls(RLIMIT_MIB * MIB)
        cage = cls(limit, group, not parent_existed)
        try:
            group.write(_LIMIT_FILE[group.version], str(limit))
        except OSError:
            cage.remove()
            return cls(RLIMIT_MIB * MIB)
        return cage

    def victim_args(self) -> list[str]:
        """The victim's command-line flags that put it in this cage."""
        if self.group is None:
            return ["--rlimit-as", str(self.limit)]
        return ["--cgroup", str(self.group.path)]

    def reading(self, pid: int) -> MemoryLimit | None:
        """The limit ``pid`` lives under and the usage counted against it, as setpoint reads it."""
        try:
            process = psutil.Process(pid)
            vms = float(process.memory_info().vms)
            rlimit = process.rlimit(psutil.RLIMIT_AS)[0]
        except psutil.Error:
            return None
        return memory_limit(pid, vms, rlimit)

    def oom_kills(self) -> int:
        """How many processes the kernel OOM-killed in the cage (0 for RLIMIT_AS)."""
        if self.group is None:
            return 0
        try:
            text = self.group.read(_EVENTS_FILE[self.group.version])
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        """Kill chaos victims still in the group, then remove it (and its parent if made here)."""
        group = self.group
        if group is None or not group.exists():
            return
        for pid in group.members():
            if is_victim(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).wait(timeout=5)
        with contextlib.suppress(OSError):
            group.remove()
            if self.made_parent:
                group.path.parent.rmdir()


def is_victim(pid: int) -> bool:
    """True when ``pid`` is a chaos victim (so it is ours to kill)."""
    try:
        return b"setpoint.chaos.victim" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
