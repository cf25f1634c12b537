"""The chaos memory cage: a cgroup of the run's own, or RLIMIT_AS where none can be made.

Each test starts real victims (``python -m setpoint.chaos.victim``) and kills them by
pid; the cgroup test makes its own uniquely named group and removes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.chaos.cage import CGROUP_ROOT, LIMIT_MIB, MIB, RLIMIT_MIB, MemoryCage
from setpoint.chaos.victims import free_port, set_fault, victim_answer


@pytest.fixture
def victims() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait(timeout=5)


def _start(victims: list[subprocess.Popen[bytes]], args: list[str]) -> tuple[int, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "setpoint.chaos.victim", str(port), *args])
    victims.append(proc)
    deadline = time.monotonic() + 10
    while victim_answer(port) is None:
        assert time.monotonic() < deadline, "the victim did not answer"
        time.sleep(0.05)
    return proc.pid, port


def _used_after_leak(cage: MemoryCage, pid: int, port: int) -> tuple[float, float]:
    before = cage.reading(pid)
    assert before is not None
    set_fault(port, "leak")
    time.sleep(1.5)
    after = cage.reading(pid)
    set_fault(port, "ok")
    assert after is not None
    return before.used, after.used


def test_without_a_cgroup_hierarchy_each_victim_limits_its_own_address_space(
    tmp_path: Path, victims: list[subprocess.Popen[bytes]]
) -> None:
    cage = MemoryCage.make("test", root=tmp_path)
    assert cage.group is None
    assert cage.victim_args() == ["--rlimit-as", str(RLIMIT_MIB * MIB)]

    pid, port = _start(victims, cage.victim_args())
    reading = cage.reading(pid)
    before, after = _used_after_leak(cage, pid, port)

    assert reading is not None
    assert (reading.source, reading.limit) == ("rlimit_as", RLIMIT_MIB * MIB)
    assert after - before >= 8 * MIB, "the leak shows in the usage counted against the limit"
    assert cage.oom_kills() == 0


def test_a_cgroup_cage_holds_its_victims_and_is_removed_with_them(
    victims: list[subprocess.Popen[bytes]],
) -> None:
    if os.geteuid() != 0 or not os.access(CGROUP_ROOT / "memory", os.W_OK):
        pytest.skip("needs root and a writable memory cgroup hierarchy")
    cage = MemoryCage.make(f"test-{uuid.uuid4().hex[:8]}")
    try:
        assert cage.group is not None
        pid, port = _start(victims, cage.victim_args())
        reading = cage.reading(pid)
        before, after = _used_after_leak(cage, pid, port)

        assert reading is not None
        assert reading.source.endswith(cage.group.name)
        assert reading.limit == LIMIT_MIB * MIB
        assert after - before >= 8 * MIB
        assert cage.group.members() == [pid]
    finally:
        cage.remove()
    assert not cage.group.exists()
    assert not Path(f"/proc/{victims[0].pid}").exists(), "remove() killed the victim inside"
