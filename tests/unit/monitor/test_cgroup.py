"""The memory limit of a process, read from checked-in style cgroup and proc trees."""

from __future__ import annotations

from pathlib import Path

from setpoint.monitor.cgroup import MemoryLimit, memory_cgroup, memory_limit

UNLIMITED = "9223372036854771712"


def _tree(tmp: Path, cgroup_lines: str) -> tuple[Path, Path]:
    proc = tmp / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text(cgroup_lines)
    return proc, tmp / "cg"


def _v1(root: Path, path: str, limit: str, usage: str) -> None:
    d = root / "memory" / path.lstrip("/")
    d.mkdir(parents=True, exist_ok=True)
    (d / "memory.limit_in_bytes").write_text(limit + "\n")
    (d / "memory.usage_in_bytes").write_text(usage + "\n")


def test_v1_takes_the_tightest_limit_up_the_path(tmp_path: Path) -> None:
    proc, cg = _tree(tmp_path, "5:cpu:/\n4:memory:/bench/leak\n0::/\n")
    _v1(cg, "/bench", "1000", "900")
    _v1(cg, "/bench/leak", UNLIMITED, "300")

    assert memory_cgroup(42, proc) == ("/bench/leak", "v1")
    assert memory_limit(42, 0.0, -1, proc, cg) == MemoryLimit(1000.0, 900.0, "/bench")


def test_v2_reads_memory_max_and_current(tmp_path: Path) -> None:
    proc, cg = _tree(tmp_path, "0::/svc\n")
    d = cg / "unified" / "svc"
    d.mkdir(parents=True)
    (d / "memory.max").write_text("2048\n")
    (d / "memory.current").write_text("1024\n")

    assert memory_limit(42, 0.0, -1, proc, cg) == MemoryLimit(2048.0, 1024.0, "/svc")


def test_rlimit_as_wins_when_its_headroom_is_smaller(tmp_path: Path) -> None:
    proc, cg = _tree(tmp_path, "0::/svc\n")
    d = cg / "unified" / "svc"
    d.mkdir(parents=True)
    (d / "memory.max").write_text("max\n")

    assert memory_limit(42, 700.0, 1000, proc, cg) == MemoryLimit(1000.0, 700.0, "rlimit_as")
    assert memory_limit(42, 700.0, -1, proc, cg) is None


def test_a_vanished_process_has_no_limit(tmp_path: Path) -> None:
    assert memory_limit(7, 0.0, -1, tmp_path, tmp_path) is None
