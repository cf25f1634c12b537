"""Disk actuators on real files in tmp: only under the allow-list, never through links."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext
from setpoint.execute.disk import DiskCompress, DiskDelete, DiskRotate

DAY = 86400


def write(path: Path, size: int, age_days: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age_days * DAY
    os.utime(path, (then, then))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``logs/`` (allowed) with old and new files, and ``outside/`` (not allowed)."""
    logs = tmp_path / "logs"
    write(logs / "old.log", 3000, age_days=10)
    write(logs / "older.log", 1000, age_days=20)
    write(logs / "new.log", 500)
    write(logs / "sub" / "deep.log", 700, age_days=30)
    write(tmp_path / "outside" / "precious.log", 900, age_days=99)
    return tmp_path


def ctx(tree: Path) -> ActionContext:
    return ActionContext("host", disk_allow=(tree / "logs",))


async def test_delete_preview_lists_files_and_bytes_and_changes_nothing(tree: Path) -> None:
    logs = tree / "logs"
    actuator = DiskDelete(DiskDelete.Config(path=logs, older_than="7d"))

    preview = await actuator.preview(ctx(tree))

    assert preview.startswith(f"delete 2 files (4000 bytes) under {logs}: ")
    assert f"{logs / 'old.log'} 3000 B 10.0d old" in preview
    assert f"{logs / 'older.log'} 1000 B 20.0d old" in preview
    assert sorted(p.name for p in logs.iterdir()) == ["new.log", "old.log", "older.log", "sub"]

    assert await actuator.apply(ctx(tree)) == f"deleted 2 files (4000 bytes) under {logs}"
    check = await actuator.verify(ctx(tree))
    assert check.ok and check.measurements["bytes_freed"] == 4000
    assert sorted(p.name for p in logs.iterdir()) == ["new.log", "sub"]
    assert (logs / "sub" / "deep.log").exists(), "not recursive unless asked"


async def test_delete_by_size_recursively(tree: Path) -> None:
    config = DiskDelete.Config(path=tree / "logs", larger_than=600, recursive=True)
    await DiskDelete(config).apply(ctx(tree))
    left = sorted(str(p.relative_to(tree)) for p in (tree / "logs").rglob("*.log"))
    assert left == ["logs/new.log"]


async def test_paths_outside_the_allow_list_are_refused(tree: Path) -> None:
    actuator = DiskDelete(DiskDelete.Config(path=tree / "outside", older_than=1))
    with pytest.raises(PreviewFailed, match=r"refused: .*outside is outside the allow-list"):
        await actuator.preview(ctx(tree))
    with pytest.raises(ApplyFailed, match="outside the allow-list"):
        await actuator.apply(ctx(tree))
    with pytest.raises(PreviewFailed, match="no directory is allow-listed"):
        await actuator.preview(ActionContext("host"))
    sneaky = DiskDelete(DiskDelete.Config(path=tree / "logs" / ".." / "outside", older_than=1))
    with pytest.raises(PreviewFailed, match="outside the allow-list"):
        await sneaky.preview(ctx(tree))
    assert (tree / "outside" / "precious.log").exists()


async def test_symlinks_never_lead_into_other_trees(tree: Path) -> None:
    logs = tree / "logs"
    (logs / "link.log").symlink_to(tree / "outside" / "precious.log")
    (logs / "linkdir").symlink_to(tree / "outside", target_is_directory=True)
    (tree / "alias").symlink_to(tree / "outside", target_is_directory=True)
    everything = DiskDelete.Config(path=logs, larger_than=0, recursive=True)

    await DiskDelete(everything).apply(ctx(tree))

    assert (tree / "outside" / "precious.log").read_bytes() == b"x" * 900
    assert (logs / "link.log").is_symlink(), "a link is not a regular file: left alone"
    via_link = DiskDelete(DiskDelete.Config(path=tree / "alias", larger_than=0))
    with pytest.raises(PreviewFailed, match=r"alias \(it resolves to .*outside\) is outside"):
        await via_link.preview(ctx(tree))


async def test_delete_needs_a_filter_and_something_to_delete(tree: Path) -> None:
    with pytest.raises(ValidationError, match="give older_than or larger_than"):
        DiskDelete.Config(path=tree / "logs")
    nothing = DiskDelete(DiskDelete.Config(path=tree / "logs", older_than="365d"))
    assert (await nothing.preview(ctx(tree))).startswith("nothing to delete")
    with pytest.raises(ApplyFailed, match="nothing to delete"):
        await nothing.apply(ctx(tree))


async def test_compress_then_rollback_restores_the_files(tree: Path) -> None:
    logs = tree / "logs"
    before = {p.name: (p.read_bytes(), p.stat().st_mtime) for p in logs.glob("*.log")}
    actuator = DiskCompress(DiskCompress.Config(path=logs, pattern="*.log", older_than="7d"))

    preview = await actuator.preview(ctx(tree))
    assert preview.startswith("gzip 2 files (4000 bytes)")
    assert not list(logs.glob("*.gz"))

    await actuator.apply(ctx(tree))
    assert sorted(p.name for p in logs.glob("*.log*")) == ["new.log", "old.log.gz", "older.log.gz"]
    assert gzip.decompress((logs / "old.log.gz").read_bytes()) == b"x" * 3000
    check = await actuator.verify(ctx(tree))
    assert check.ok and check.measurements["bytes_saved"] > 3000

    await actuator.rollback(ctx(tree))
    after = {p.name: (p.read_bytes(), p.stat().st_mtime) for p in logs.glob("*.log")}
    assert after == before and not list(logs.glob("*.gz"))


async def test_rotate_then_rollback(tree: Path) -> None:
    log = tree / "logs" / "app.log"
    write(log, 5000)
    write(log.with_name("app.log.1"), 100)
    log.chmod(0o640)
    actuator = DiskRotate(DiskRotate.Config(path=log, keep=2, larger_than=1000))

    preview = await actuator.preview(ctx(tree))
    assert preview == f"rotate {log} (5000 B) -> {log}.1, keep 2"
    assert log.stat().st_size == 5000

    await actuator.apply(ctx(tree))
    assert log.stat().st_size == 0 and log.stat().st_mode & 0o777 == 0o640
    assert log.with_name("app.log.1").stat().st_size == 5000
    assert log.with_name("app.log.2").stat().st_size == 100
    assert (await actuator.verify(ctx(tree))).ok

    with open(log, "ab") as f:
        f.write(b"y" * 10)
    await actuator.rollback(ctx(tree))
    assert log.read_bytes() == b"x" * 5000 + b"y" * 10
    assert log.with_name("app.log.1").stat().st_size == 100
    assert not log.with_name("app.log.2").exists()


async def test_rotate_refuses_small_files_and_files_outside(tree: Path) -> None:
    small = DiskRotate(DiskRotate.Config(path=tree / "logs" / "new.log", larger_than=1000))
    with pytest.raises(PreviewFailed, match="nothing to rotate"):
        await small.preview(ctx(tree))
    outside = DiskRotate(DiskRotate.Config(path=tree / "outside" / "precious.log"))
    with pytest.raises(ApplyFailed, match="outside the allow-list"):
        await outside.apply(ctx(tree))
