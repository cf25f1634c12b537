"""The memory limit a process lives under: its memory cgroup's, or its RLIMIT_AS.

The kernel kills a process when the usage counted against its tightest limit reaches
it, so that is the headroom the OOM predictor watches: for a cgroup, the cgroup's own
usage (every process in it counts) against the lowest ``memory.limit_in_bytes`` (v1) or
``memory.max`` (v2) on its path up to the root; for ``RLIMIT_AS``, the process's virtual
size against the rlimit. Both roots are injectable so tests read checked-in trees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

_UNLIMITED = 1 << 60
"""v1 reports "no limit" as a huge page-rounded number; anything past this is none."""


@dataclass(frozen=True, slots=True)
class MemoryLimit:
    """A limit, the usage counted against it, and where it comes from.

    ``source`` is the cgroup path (``/bench/leak``) or ``rlimit_as``.
    """

    limit: float
    used: float
    source: str
    usage_path: Path | None = field(default=None, compare=False, repr=False)

    @property
    def headroom(self) -> float:
        """How much more may be used before the kernel acts."""
        return self.limit - self.used


def _read_number(path: Path) -> float | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max" or not text.isdigit() or int(text) >= _UNLIMITED:
        return None
    return float(text)


def memory_cgroup(pid: int, proc_root: Path) -> tuple[str, str] | None:
    """The memory cgroup path of ``pid`` and its version (``v1`` or ``v2``), if any."""
    try:
        lines = (proc_root / str(pid) / "cgroup").read_text().splitlines()
    except OSError:
        return None
    unified = None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path, "v1"
        if controllers == "":
            unified = path
    return (unified, "v2") if unified is not None else None


def cgroup_limit(path: str, version: str, cgroup_root: Path) -> MemoryLimit | None:
    """The tightest memory limit on ``path`` or above it, with that cgroup's usage."""
    base = cgroup_root / "memory" if version == "v1" else cgroup_root / "unified"
    limit_file, usage_file = (
        ("memory.limit_in_bytes", "memory.usage_in_bytes")
        if version == "v1"
        else ("memory.max", "memory.current")
    )
    best: MemoryLimit | None = None
    parts = [p for p in path.split("/") if p]
    for depth in range(len(parts), 0, -1):
        here = "/" + "/".join(parts[:depth])
        limit = _read_number(base / here.lstrip("/") / limit_file)
        if limit is None:
            continue
        usage_path = base / here.lstrip("/") / usage_file
        used = _read_number(usage_path) or 0.0
        if best is None or limit - used < best.headroom:
            best = MemoryLimit(limit, used, here, usage_path)
    return best


def with_current_usage(limit: MemoryLimit, vms: float) -> MemoryLimit:
    """The same limit with its usage read again: one file for a cgroup, ``vms`` otherwise.

    Finding the limit walks the cgroup path; the usage is all that changes every tick.
    """
    if limit.usage_path is None:
        return MemoryLimit(limit.limit, vms, limit.source)
    used = _read_number(limit.usage_path) or 0.0
    return MemoryLimit(limit.limit, used, limit.source, limit.usage_path)


def memory_limit(
    pid: int,
    vms: float,
    rlimit_as: int,
    proc_root: Path = Path("/proc"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
) -> MemoryLimit | None:
    """The limit with the least headroom for ``pid``, or None when it has none.

    >>> import os, resource
    >>> memory_limit(os.getpid(), 1.0, resource.RLIM_INFINITY, cgroup_root=Path("/nonexistent"))
    """
    found = memory_cgroup(pid, proc_root)
    best = cgroup_limit(found[0], found[1], cgroup_root) if found else None
    if rlimit_as >= 0 and rlimit_as < _UNLIMITED:
        by_as = MemoryLimit(float(rlimit_as), vms, "rlimit_as")
        if best is None or by_as.headroom < best.headroom:
            best = by_as
    return best
