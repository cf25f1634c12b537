"""Disk actuators: ``disk.delete``, ``disk.compress`` (gzip) and ``disk.rotate``.

Only regular files under the host's allow-list (config ``disk.allow``) are touched;
see :mod:`setpoint.execute.disk_select` for how paths are resolved and refused.
Previews list every file with its size. File work runs off the event loop.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ByteSize, ConfigDict, Field, model_validator

from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification
from setpoint.execute.disk_select import FileInfo, FileSelection, allowed_root, listing, select

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def _selected(sel: FileSelection, ctx: ActionContext, verb: str) -> list[FileInfo]:
    try:
        files = select(sel, ctx.disk_allow)
    except PreviewFailed as exc:
        raise ApplyFailed(str(exc)) from exc
    if not files:
        raise ApplyFailed(listing(verb, files, sel))
    return files


class DiskDelete:
    """Delete the selected files; at least one of ``older_than``/``larger_than`` is needed."""

    class Config(FileSelection):
        """Which files to delete."""

        @model_validator(mode="after")
        def _a_filter(self) -> DiskDelete.Config:
            if self.older_than is None and self.larger_than is None:
                raise ValueError("give older_than or larger_than (never delete everything)")
            return self

    risk: ClassVar[Risk] = Risk.DESTRUCTIVE
    blast: ClassVar[Blast] = Blast.FILES

    def __init__(self, config: Config) -> None:
        self.config = config
        self._deleted: list[FileInfo] = []

    async def preview(self, ctx: ActionContext) -> str:
        """Every file that would be deleted, with its size and age."""
        return listing("delete", select(self.config, ctx.disk_allow), self.config)

    async def apply(self, ctx: ActionContext) -> str:
        """Unlink each selected file (a link put in its place is removed, not followed)."""
        for info in _selected(self.config, ctx, "delete"):
            try:
                await asyncio.to_thread(os.unlink, info.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ApplyFailed(f"cannot delete {info.path}: {exc.strerror}") from exc
            self._deleted.append(info)
        freed = sum(f.size for f in self._deleted)
        return f"deleted {len(self._deleted)} files ({freed} bytes) under {self.config.path}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """None of the deleted paths exists any more."""
        left = [str(f.path) for f in self._deleted if os.path.lexists(f.path)]
        freed = sum(f.size for f in self._deleted)
        ok = bool(self._deleted) and not left
        detail = f"{len(self._deleted)} files gone, {freed} bytes" if ok else f"still there: {left}"
        return Verification(ok, detail, {"files": len(self._deleted), "bytes_freed": freed})


def _gzip(src: Path, dst: Path, level: int) -> int:
    """Compress ``src`` into a new ``dst`` (never a link), keep mode and mtime, drop ``src``."""
    fd = os.open(src, os.O_RDONLY | _NOFOLLOW)
    with os.fdopen(fd, "rb") as fin:
        st = os.fstat(fin.fileno())
        out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, st.st_mode & 0o777)
        with os.fdopen(out, "wb") as raw, gzip.GzipFile(src.name, "wb", level, raw) as zout:
            shutil.copyfileobj(fin, zout)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.unlink(src)
    return dst.stat().st_size


def _gunzip(src: Path, dst: Path) -> None:
    """The inverse of :func:`_gzip`."""
    st = src.lstat()
    out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, st.st_mode & 0o777)
    with os.fdopen(out, "wb") as fout, gzip.open(src, "rb") as zin:
        shutil.copyfileobj(zin, fout)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.unlink(src)


class DiskCompress:
    """gzip the selected files in place (``a.log`` -> ``a.log.gz``); rollback unzips them."""

    class Config(FileSelection):
        """Which files to compress, and how hard."""

        level: int = Field(6, ge=1, le=9)

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.FILES

    def __init__(self, config: Config) -> None:
        self.config = config
        self._done: list[tuple[FileInfo, Path, int]] = []

    def _pick(self, ctx: ActionContext) -> list[FileInfo]:
        files = select(self.config, ctx.disk_allow)
        return [f for f in files if f.path.suffix != ".gz"]

    async def preview(self, ctx: ActionContext) -> str:
        """Every file that would be compressed, with its size."""
        return listing("gzip", self._pick(ctx), self.config)

    async def apply(self, ctx: ActionContext) -> str:
        """Compress each file to ``NAME.gz``, then remove the original."""
        try:
            files = self._pick(ctx)
        except PreviewFailed as exc:
            raise ApplyFailed(str(exc)) from exc
        if not files:
            raise ApplyFailed(listing("gzip", files, self.config))
        for info in files:
            dst = info.path.with_name(info.path.name + ".gz")
            try:
                size = await asyncio.to_thread(_gzip, info.path, dst, self.config.level)
            except OSError as exc:
                raise ApplyFailed(f"cannot gzip {info.path}: {exc}") from exc
            self._done.append((info, dst, size))
        before = sum(i.size for i, _, _ in self._done)
        after = sum(s for _, _, s in self._done)
        return f"gzipped {len(self._done)} files: {before} -> {after} bytes"

    async def verify(self, ctx: ActionContext) -> Verification:
        """Each ``.gz`` exists and starts with the gzip magic; each original is gone."""
        bad = []
        for info, dst, _ in self._done:
            try:
                magic = dst.read_bytes()[:2] if dst.is_file() else b""
            except OSError:
                magic = b""
            if magic != b"\x1f\x8b" or os.path.lexists(info.path):
                bad.append(str(info.path))
        saved = sum(i.size - s for i, _, s in self._done)
        ok = bool(self._done) and not bad
        detail = f"{len(self._done)} files gzipped, {saved} bytes saved" if ok else f"bad: {bad}"
        return Verification(ok, detail, {"files": len(self._done), "bytes_saved": saved})

    async def rollback(self, ctx: ActionContext) -> str:
        """Unzip every file this action compressed back to its name."""
        for info, dst, _ in self._done:
            try:
                await asyncio.to_thread(_gunzip, dst, info.path)
            except OSError as exc:
                raise RollbackFailed(f"cannot gunzip {dst}: {exc}") from exc
        return f"gunzipped {len(self._done)} files"


class DiskRotate:
    """Rotate one file like logrotate's ``create``: ``f`` -> ``f.1`` ... ``f.keep``.

    A new empty ``f`` with the same mode and owner takes its place; the writer must
    reopen it (pair with ``systemd.reload`` or ``process.signal`` SIGHUP).
    """

    class Config(BaseModel):
        """The file, how many generations to keep, and the size that warrants it."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        path: Path
        keep: int = Field(5, ge=1, le=100)
        larger_than: ByteSize | None = Field(None, ge=0, description="rotate only above this")

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.FILES

    def __init__(self, config: Config) -> None:
        self.config = config
        self._file: Path | None = None
        self._size = 0

    def _target(self, ctx: ActionContext) -> tuple[Path, os.stat_result]:
        real, _ = allowed_root(self.config.path, ctx.disk_allow)
        st = real.lstat()
        if not real.is_file():
            raise PreviewFailed(f"{real} is not a regular file")
        limit = self.config.larger_than
        if limit is not None and st.st_size <= limit:
            raise PreviewFailed(f"nothing to rotate: {real} is {st.st_size} B, not over {limit}")
        return real, st

    def _gen(self, path: Path, n: int) -> Path:
        return path.with_name(f"{path.name}.{n}")

    async def preview(self, ctx: ActionContext) -> str:
        """The file, its size, and the generation that would be dropped."""
        real, st = self._target(ctx)
        last = self._gen(real, self.config.keep)
        drop = f"; drops {last} ({last.lstat().st_size} B)" if last.is_file() else ""
        return (
            f"rotate {real} ({st.st_size} B) -> {self._gen(real, 1)}, keep {self.config.keep}{drop}"
        )

    def _rotate(self, real: Path, st: os.stat_result) -> None:
        for n in range(self.config.keep - 1, 0, -1):
            if os.path.lexists(self._gen(real, n)):
                os.replace(self._gen(real, n), self._gen(real, n + 1))
        os.replace(real, self._gen(real, 1))
        fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, st.st_mode & 0o7777)
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
        finally:
            os.close(fd)

    async def apply(self, ctx: ActionContext) -> str:
        """Shift the generations up, move the file to ``.1``, create an empty one."""
        try:
            real, st = self._target(ctx)
            await asyncio.to_thread(self._rotate, real, st)
        except PreviewFailed as exc:
            raise ApplyFailed(str(exc)) from exc
        except OSError as exc:
            raise ApplyFailed(f"cannot rotate {self.config.path}: {exc}") from exc
        self._file, self._size = real, st.st_size
        return f"rotated {real} ({st.st_size} B) -> {self._gen(real, 1)}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """``.1`` holds the old content's size and the file starts afresh."""
        if self._file is None:
            return Verification(False, "nothing was rotated")
        first = self._gen(self._file, 1)
        ok = first.is_file() and first.stat().st_size >= self._size and self._file.is_file()
        now = self._file.stat().st_size if self._file.is_file() else None
        detail = f"{first} holds {self._size} B; {self._file} is {now} B"
        return Verification(ok, detail, {"rotated_bytes": self._size})

    def _unrotate(self, real: Path) -> None:
        first = self._gen(real, 1)
        with open(real, "rb") as new, open(first, "ab") as old:
            shutil.copyfileobj(new, old)
        os.replace(first, real)
        for n in range(2, self.config.keep + 1):
            if os.path.lexists(self._gen(real, n)):
                os.replace(self._gen(real, n), self._gen(real, n - 1))

    async def rollback(self, ctx: ActionContext) -> str:
        """Put ``.1`` back (with what was written since appended); shift the rest down."""
        if self._file is None:
            return "nothing to undo"
        try:
            await asyncio.to_thread(self._unrotate, self._file)
        except OSError as exc:
            raise RollbackFailed(f"cannot undo the rotation of {self._file}: {exc}") from exc
        return f"restored {self._file} from {self._gen(self._file, 1)}"
