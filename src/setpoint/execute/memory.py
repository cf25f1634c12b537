"""Kernel memory actuators, where permitted: ``memory.drop_caches`` and ``memory.compact``.

Both write one value to a file under ``/proc/sys/vm``. Only root may, and not in
every container (a read-only ``/proc/sys`` gives EROFS); preview says "not
permitted here" instead of failing later. Neither has an inverse: the kernel refills
its caches by itself. ``proc_root`` is a parameter so tests can use their own tree.
"""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import ClassVar, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field

from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification

_REFUSED = (errno.EACCES, errno.EPERM, errno.EROFS)
_WHAT = {1: "the page cache", 2: "dentries and inodes", 3: "the page cache, dentries and inodes"}


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def permitted(path: Path) -> str | None:
    """None when ``path`` can be written here, else why not ("not permitted here: ...")."""
    if not path.exists():
        return f"not permitted here: {path} does not exist"
    if not os.access(path, os.W_OK):
        return f"not permitted here: {path} is not writable by uid {os.getuid()}"
    return None


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    proc_root: Path = Path("/proc")


class _VmKnob:
    """Write one value to one ``/proc/sys/vm`` file; verify by what changed."""

    file: ClassVar[str]
    config: _Params

    def _path(self) -> Path:
        return self.config.proc_root / "sys" / "vm" / self.file

    def _value(self) -> str:
        return "1"

    def _check(self) -> Path:
        path = self._path()
        refusal = permitted(path)
        if refusal is not None:
            raise PreviewFailed(refusal)
        return path

    async def _poke(self) -> None:
        try:
            path = self._check()
        except PreviewFailed as exc:
            raise ApplyFailed(str(exc)) from exc
        try:
            await asyncio.to_thread(_write, path, self._value())
        except OSError as exc:
            code = errno.errorcode.get(exc.errno or 0, "?")
            why = "not permitted here" if exc.errno in _REFUSED else "cannot write"
            raise ApplyFailed(f"{why}: {path}: {code} {exc.strerror}") from exc


class MemoryDropCaches(_VmKnob):
    """``echo N > /proc/sys/vm/drop_caches``: free clean caches (after a ``sync``)."""

    class Config(_Params):
        """What to drop: 1 page cache, 2 dentries and inodes, 3 both."""

        what: Literal[1, 2, 3] = 1
        sync: bool = Field(True, description="write dirty pages first so more can be dropped")

    file: ClassVar[str] = "drop_caches"
    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.HOST
    config: Config

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self._cached_before: int | None = None

    def _value(self) -> str:
        return str(self.config.what)

    async def preview(self, ctx: ActionContext) -> str:
        """What would be dropped, and how much page cache there is now."""
        path = self._check()
        cached = psutil.virtual_memory().cached
        sync = "sync, then " if self.config.sync else ""
        what = _WHAT[self.config.what]
        return f"{sync}write {self.config.what} to {path}: drop {what} (page cache now {cached} B)"

    async def apply(self, ctx: ActionContext) -> str:
        """Sync (optionally), then drop."""
        before = psutil.virtual_memory().cached
        if self.config.sync:
            await asyncio.to_thread(os.sync)
        await self._poke()
        self._cached_before = before
        return f"dropped {_WHAT[self.config.what]}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The write was accepted; the page cache is reported before and after."""
        after = psutil.virtual_memory().cached
        before = self._cached_before
        ok = before is not None
        detail = f"page cache {before} -> {after} B" if ok else "nothing was applied"
        return Verification(ok, detail, {"cached_before": before, "cached_after": after})


class MemoryCompact(_VmKnob):
    """``echo 1 > /proc/sys/vm/compact_memory``: defragment free memory for huge pages."""

    class Config(_Params):
        """Only where ``/proc`` is."""

    file: ClassVar[str] = "compact_memory"
    risk: ClassVar[Risk] = Risk.SAFE
    blast: ClassVar[Blast] = Blast.HOST
    config: Config

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self._done = False

    async def preview(self, ctx: ActionContext) -> str:
        """The file that would be written."""
        return f"write 1 to {self._check()}: compact free memory on every zone"

    async def apply(self, ctx: ActionContext) -> str:
        """Trigger compaction (the write returns when it is done)."""
        await self._poke()
        self._done = True
        return "compacted memory"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The kernel accepted the write (it compacts synchronously)."""
        return Verification(self._done, "compaction ran" if self._done else "nothing was applied")
