"""``process.cpu_limit`` and ``process.memory_limit``: a cgroup of setpoint's own.

The target process (and, by default, its descendants) is moved into
``setpoint/<target>`` of the cpu or memory controller, whose limit files are set
first: on cgroup v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us`` and
``memory.limit_in_bytes``, on v2 ``cpu.max``, ``memory.max`` and ``memory.high``.
Rollback moves every process back to the group it came from and removes the group.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import psutil
from pydantic import ByteSize, Field, model_validator

from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext, Blast, ProcessTarget, Risk, Verification
from setpoint.execute.cgroups import Cgroup, Version
from setpoint.execute.process import describe


class CgroupParams(ProcessTarget):
    """Where the cgroup hierarchies are and which processes move."""

    cgroup_root: Path = Field(Path("/sys/fs/cgroup"), description="v2 tree or v1 mounts")
    cgroup_version: Version = "auto"
    proc_root: Path = Path("/proc")
    children: bool = Field(True, description="move the target's descendants too")


class _CgroupLimit(ABC):
    """Shared steps: open the group, set its limits, move the processes, undo."""

    controller: ClassVar[str]
    blast: ClassVar[Blast] = Blast.PROCESS
    config: CgroupParams

    def __init__(self, config: CgroupParams, rmdir: Callable[[Path], None] = os.rmdir) -> None:
        self.config = config
        self._rmdir = rmdir
        self._origins: dict[int, Path] = {}
        self._group: Cgroup | None = None

    @abstractmethod
    def limits(self, version: str) -> dict[str, str]:
        """The control files to write and their values, for this cgroup version."""

    def _open(self, ctx: ActionContext) -> tuple[Cgroup, list[int]]:
        cfg = self.config
        try:
            group = Cgroup.open(
                cfg.cgroup_root, self.controller, ctx.entity, cfg.cgroup_version, cfg.proc_root
            )
        except OSError as exc:
            raise PreviewFailed(f"no cgroup {self.controller} controller here: {exc}") from exc
        if not os.access(group.hierarchy, os.W_OK):
            raise PreviewFailed(f"not permitted here: {group.hierarchy} is not writable")
        pids = cfg.pids(ctx, cfg.proc_root)
        if cfg.children:
            for pid in list(pids):
                try:
                    pids += [c.pid for c in psutil.Process(pid).children(recursive=True)]
                except psutil.Error:
                    continue
        return group, pids

    async def preview(self, ctx: ActionContext) -> str:
        """Name the group, the limit files and each process that would move."""
        group, pids = self._open(ctx)
        files = " ".join(f"{k}={v}" for k, v in self.limits(group.version).items())
        moved = ", ".join(describe(p) for p in pids)
        return f"cgroup {group.version} {group.path}: {files}; move {moved}"

    async def apply(self, ctx: ActionContext) -> str:
        """Create the group, write its limits, then move the processes in."""
        try:
            group, pids = self._open(ctx)
            limits = self.limits(group.version)
        except PreviewFailed as exc:
            raise ApplyFailed(str(exc)) from exc
        self._group = group
        try:
            group.create()
            for file, value in limits.items():
                group.write(file, value)
            for pid in pids:
                origin = group.origin(pid)
                if origin != group.path:
                    self._origins.setdefault(pid, origin)
                group.move(pid, group.path)
        except OSError as exc:
            raise ApplyFailed(f"cgroup {group.path}: {exc}") from exc
        files = " ".join(f"{k}={v}" for k, v in limits.items())
        return f"moved pid {', '.join(map(str, pids))} into {group.path} ({files})"

    def _read_back(self, group: Cgroup, file: str, wanted: str) -> bool:
        got = group.read(file)
        if got == wanted or not wanted.isdigit() or not got.isdigit():
            return got == wanted
        # v1 rounds byte limits down to whole pages
        return 0 <= int(wanted) - int(got) < os.sysconf("SC_PAGE_SIZE")

    async def verify(self, ctx: ActionContext) -> Verification:
        """The limits read back and every moved process that still lives is in the group."""
        group = self._group
        if group is None:
            return Verification(False, "nothing was applied")
        try:
            limits = self.limits(group.version)
            wrong = [f for f, v in limits.items() if not self._read_back(group, f, v)]
        except OSError as exc:
            return Verification(False, f"cannot read {group.path}: {exc}")
        outside = [p for p in self._origins if psutil.pid_exists(p) and not group.holds(p)]
        ok = not wrong and not outside
        detail = (
            f"pid {', '.join(map(str, self._origins))} limited in {group.path}"
            if ok
            else f"limits not in effect: files {wrong}, pids outside {outside}"
        )
        return Verification(ok, detail, {"cgroup": str(group.path), **limits})

    async def rollback(self, ctx: ActionContext) -> str:
        """Move every process in the group back where it came from; remove the group."""
        group = self._group
        if group is None or not group.exists():
            return "nothing to undo"
        fallback = next(iter(self._origins.values()), group.hierarchy)
        try:
            members = group.members()
            for pid in members:
                try:
                    group.move(pid, self._origins.get(pid, fallback))
                except ProcessLookupError:
                    continue
            group.remove(self._rmdir)
        except OSError as exc:
            raise RollbackFailed(f"cannot undo cgroup {group.path}: {exc}") from exc
        return f"moved pid {', '.join(map(str, members)) or 'none'} back; removed {group.path}"


class ProcessCpuLimit(_CgroupLimit):
    """Cap the target's CPU time: ``percent`` of one CPU (200 is two CPUs)."""

    class Config(CgroupParams):
        """The CPU cap."""

        percent: float = Field(gt=0, description="100 is one CPU busy")
        period_us: int = Field(100_000, ge=1_000, le=1_000_000)

    controller: ClassVar[str] = "cpu"
    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    config: Config

    def limits(self, version: str) -> dict[str, str]:
        """``cpu.max`` on v2; ``cpu.cfs_period_us`` then ``cpu.cfs_quota_us`` on v1."""
        period = self.config.period_us
        quota = max(1_000, round(period * self.config.percent / 100))
        if version == "v2":
            return {"cpu.max": f"{quota} {period}"}
        return {"cpu.cfs_period_us": str(period), "cpu.cfs_quota_us": str(quota)}


class ProcessMemoryLimit(_CgroupLimit):
    """Cap the target's memory: ``max`` (the kernel reclaims, then OOM-kills) and ``high``.

    ``high`` (throttle and reclaim above it, never kill) exists only on cgroup v2.
    """

    class Config(CgroupParams):
        """The memory caps; give at least one."""

        max: ByteSize | None = Field(None, gt=0, description="e.g. 512MiB")
        high: ByteSize | None = Field(None, gt=0, description="v2 only, e.g. 400MiB")

        @model_validator(mode="after")
        def _some_limit(self) -> ProcessMemoryLimit.Config:
            if self.max is None and self.high is None:
                raise ValueError("give max, high or both")
            return self

    controller: ClassVar[str] = "memory"
    risk: ClassVar[Risk] = Risk.DESTRUCTIVE
    config: Config

    def limits(self, version: str) -> dict[str, str]:
        """``memory.max``/``memory.high`` on v2; ``memory.limit_in_bytes`` on v1."""
        cfg = self.config
        if version == "v2":
            files = {"memory.high": cfg.high, "memory.max": cfg.max}
            return {k: str(int(v)) for k, v in files.items() if v is not None}
        if cfg.high is not None:
            raise PreviewFailed("memory.high needs cgroup v2; this host has v1 (use max)")
        assert cfg.max is not None
        return {"memory.limit_in_bytes": str(int(cfg.max))}
