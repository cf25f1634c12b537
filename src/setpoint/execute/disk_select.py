"""Which files the disk actuators may touch: only regular files under allow-listed trees.

The target path is resolved (symlinks followed once, to see where it really is) and
must lie inside one of the resolved ``disk.allow`` directories; anything else is
refused with the reason. Below it, symbolic links are never followed: a link is not
a regular file, so it is skipped, and directories are walked without following links
(``os.walk(followlinks=False)``), so no selection can reach into another tree.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ByteSize, ConfigDict, Field

from setpoint.config.durations import Duration
from setpoint.errors import PreviewFailed


@dataclass(frozen=True)
class FileInfo:
    """One selected file: where, how big, and when it last changed."""

    path: Path
    size: int
    mtime: float

    def describe(self, now: float) -> str:
        """``/x/a.log 2048 B 3.0d old``."""
        return f"{self.path} {self.size} B {(now - self.mtime) / 86400:.1f}d old"


class FileSelection(BaseModel):
    """Parameters that pick files: a path, a name pattern, age and size filters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="a directory (its files are selected) or one file")
    pattern: str = Field("*", min_length=1, description="glob on the file name")
    recursive: bool = Field(False, description="descend into subdirectories (never links)")
    older_than: Duration | None = Field(None, gt=0, description="by last modification")
    larger_than: ByteSize | None = Field(None, ge=0, description="size in bytes, e.g. 10MiB")


def allowed_root(path: Path, allow: tuple[Path, ...]) -> tuple[Path, Path]:
    """``(resolved path, resolved allow-list entry holding it)``, or PreviewFailed."""
    if not allow:
        raise PreviewFailed(f"refused: {path}: no directory is allow-listed (config disk.allow)")
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise PreviewFailed(f"cannot resolve {path}: {exc}") from exc
    for entry in allow:
        root = entry.resolve()
        if real == root or real.is_relative_to(root):
            return real, root
    shown = ", ".join(str(a) for a in allow)
    via = f" (it resolves to {real})" if real != path else ""
    raise PreviewFailed(f"refused: {path}{via} is outside the allow-list [{shown}]")


def _regular(path: Path) -> os.stat_result | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _candidates(real: Path, sel: FileSelection) -> list[Path]:
    if not real.is_dir():
        return [real]
    if not sel.recursive:
        with os.scandir(real) as entries:
            return [Path(e.path) for e in entries]
    found = []
    for top, _dirs, files in os.walk(real, followlinks=False):
        found += [Path(top, name) for name in files]
    return found


def select(sel: FileSelection, allow: tuple[Path, ...], now: float | None = None) -> list[FileInfo]:
    """The regular files the selection picks, sorted by path; refuses outside the allow-list."""
    real, _ = allowed_root(sel.path, allow)
    now = time.time() if now is None else now
    picked = []
    for path in _candidates(real, sel):
        st = _regular(path)
        if st is None or not fnmatch.fnmatch(path.name, sel.pattern):
            continue
        if sel.older_than is not None and now - st.st_mtime < sel.older_than:
            continue
        if sel.larger_than is not None and st.st_size <= sel.larger_than:
            continue
        picked.append(FileInfo(path, st.st_size, st.st_mtime))
    return sorted(picked, key=lambda f: str(f.path))


def listing(verb: str, files: list[FileInfo], sel: FileSelection) -> str:
    """``delete 2 files (3072 bytes) under /x: /x/a 2048 B 3.0d old, ...`` for previews."""
    if not files:
        return f"nothing to {verb}: no file under {sel.path} matches"
    now = time.time()
    total = sum(f.size for f in files)
    shown = ", ".join(f.describe(now) for f in files)
    return f"{verb} {len(files)} files ({total} bytes) under {sel.path}: {shown}"
