from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from setpoint.clock import ManualClock
from setpoint.errors import SensorUnavailable
from setpoint.monitor.process import ProcessSampler, find_pids
from setpoint.service.signals import proc_state


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def marker() -> str:
    return f"setpoint-test-{uuid.uuid4().hex}"


@pytest.fixture
def sleeper(marker: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real process that sleeps 30 s, with a unique marker in its command line."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    try:
        # exec'd and asleep in time.sleep: not a fork still starting up
        if not wait_for(lambda: marker in cmdline.read_text() and proc_state(proc.pid) == "S"):
            pytest.fail("the sleeper did not start within 5 s")
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def test_sample_reads_the_process(sleeper: subprocess.Popen[bytes]) -> None:
    sampler = ProcessSampler("web")
    first = {s.series: s for s in sampler.sample(sleeper.pid)}
    second = {s.series: s for s in sampler.sample(sleeper.pid)}

    read = {"service.rss_bytes", "service.threads", "service.fds", "service.fds_limit"}
    assert set(first) == read
    assert set(second) == set(first) | {"service.cpu_percent"}
    assert first["service.rss_bytes"].value > 1_000_000
    assert first["service.threads"].value >= 1
    assert first["service.fds"].value >= 3
    assert first["service.fds_limit"].value >= first["service.fds"].value
    assert second["service.cpu_percent"].value >= 0
    for sample in second.values():
        assert sample.entity == "service:web"
        assert sample.key == sample.series


def test_sampler_follows_a_new_pid(sleeper: subprocess.Popen[bytes]) -> None:
    sampler = ProcessSampler("web")
    sampler.sample(os.getpid())
    sampler.sample(os.getpid())
    after_change = {s.series for s in sampler.sample(sleeper.pid)}

    assert "service.cpu_percent" not in after_change, "a new process starts a new CPU baseline"


def test_sampling_a_gone_process_raises_sensor_unavailable(
    sleeper: subprocess.Popen[bytes],
) -> None:
    sampler = ProcessSampler("web")
    sampler.sample(sleeper.pid)
    os.kill(sleeper.pid, signal.SIGKILL)
    sleeper.wait(timeout=5)

    with pytest.raises(SensorUnavailable, match=f"service web: pid {sleeper.pid}"):
        sampler.sample(sleeper.pid)


def test_state_follows_stop_continue_and_kill(sleeper: subprocess.Popen[bytes]) -> None:
    pid = sleeper.pid
    assert wait_for(lambda: proc_state(pid) == "S")

    os.kill(pid, signal.SIGSTOP)
    assert wait_for(lambda: proc_state(pid) == "T")

    os.kill(pid, signal.SIGCONT)
    assert wait_for(lambda: proc_state(pid) == "S")

    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: proc_state(pid) == "Z"), "killed but not yet reaped"
    sleeper.wait(timeout=5)
    assert proc_state(pid) is None


def test_state_splits_at_the_last_parenthesis(tmp_path: Path) -> None:
    (tmp_path / "123").mkdir()
    (tmp_path / "123" / "stat").write_text("123 (evil) R (x) t 1 123 123 0 -1 4194304\n")

    assert proc_state(123, proc_root=tmp_path) == "t"
    assert proc_state(124, proc_root=tmp_path) is None


def test_find_pids_by_match(sleeper: subprocess.Popen[bytes], marker: str) -> None:
    assert wait_for(lambda: find_pids(marker, None) == [sleeper.pid])
    assert find_pids(f"time.sleep\\(30\\) {marker}$", None) == [sleeper.pid]
    assert find_pids("setpoint-test-no-such-marker-" + uuid.uuid4().hex, None) == []


def test_find_pids_never_returns_the_caller() -> None:
    assert os.getpid() not in find_pids(".", None)


def test_find_pids_by_pid_file(sleeper: subprocess.Popen[bytes], tmp_path: Path) -> None:
    pid_file = tmp_path / "web.pid"
    pid_file.write_text(f"{sleeper.pid}\n")
    assert find_pids(None, pid_file) == [sleeper.pid]

    os.kill(sleeper.pid, signal.SIGKILL)
    sleeper.wait(timeout=5)
    assert find_pids(None, pid_file) == [], "a stale pid file names no process"

    pid_file.write_text("not a pid\n")
    assert find_pids(None, pid_file) == []
    assert find_pids(None, tmp_path / "missing.pid") == []


def test_a_young_process_moved_into_a_cgroup_is_seen_at_once(
    sleeper: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    """A cgroup joined just after start counts at the next tick; later moves within 10 s.

    The proc and cgroup trees are files in the test's own directory (the process is
    real); the manual clock stands for the ticks.
    """
    proc, cg = tmp_path / "proc", tmp_path / "cg"
    (proc / str(sleeper.pid)).mkdir(parents=True)
    where = proc / str(sleeper.pid) / "cgroup"
    for name, size in (("a", "1000"), ("b", "500")):
        (cg / "memory" / name).mkdir(parents=True)
        (cg / "memory" / name / "memory.limit_in_bytes").write_text(size)
        (cg / "memory" / name / "memory.usage_in_bytes").write_text("100")
    clock = ManualClock()
    sampler = ProcessSampler("web", proc_root=proc, clock=clock, cgroup_root=cg)

    def limit() -> float | None:
        read = {s.series: s.value for s in sampler.sample(sleeper.pid)}
        return read.get("service.memory_limit_bytes")

    where.write_text("4:memory:/\n")
    assert limit() is None
    clock.advance(1.0)
    where.write_text("4:memory:/a\n")
    assert limit() == 1000.0, "moved in its first seconds: seen on the next tick"
    clock.advance(sampler.settle)
    assert limit() == 1000.0
    where.write_text("4:memory:/b\n")
    clock.advance(1.0)
    assert limit() == 1000.0, "an older process's limit is looked up every limit_every"
    clock.advance(sampler.limit_every)
    assert limit() == 500.0
