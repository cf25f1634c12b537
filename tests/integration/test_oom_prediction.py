"""A real leaking process under a real memory cgroup limit is predicted before its kill.

The test makes its own cgroup-v1 memory sub-cgroup (128 MiB, no swap on this host to
fall back on), starts a leaker and a bigger steady neighbour in it, samples both with
the real ProcessSampler every 0.5 s and feeds the CrashPredictor, until the kernel
OOM-kills one of them (at most 30 s). Everything it made is killed and removed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.analyze.crash import OOM_PREDICTED, CrashPolicy, CrashPredictor
from setpoint.analyze.trend import TrendPolicy
from setpoint.monitor.process import ProcessSampler

MEMORY = Path("/sys/fs/cgroup/memory")
MIB = 2**20
WORKER = """
import sys, time
open(sys.argv[1] + "/cgroup.procs", "w").write(str(__import__("os").getpid()))
base, rate, held, start = float(sys.argv[2]), float(sys.argv[3]), [], time.monotonic()
while time.monotonic() - start < 40:
    want = int(base + rate * (time.monotonic() - start))
    while len(held) < want:
        held.append(bytearray(b"x") * 2**20)
    time.sleep(0.05)
"""


@pytest.fixture
def cgroup() -> Iterator[Path]:
    if os.geteuid() != 0 or not os.access(MEMORY, os.W_OK):
        pytest.skip("needs a writable cgroup-v1 memory controller (root)")
    path = MEMORY / f"setpoint-test-{os.getpid()}"
    path.mkdir()
    (path / "memory.limit_in_bytes").write_text(str(128 * MIB))
    yield path
    for _ in range(50):
        pids = (path / "cgroup.procs").read_text().split()
        if not pids:
            break
        for pid in pids:
            os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.1)
    path.rmdir()


def _oom_kills(path: Path) -> int:
    line = next(
        x for x in (path / "memory.oom_control").read_text().splitlines() if "oom_kill " in x
    )
    return int(line.split()[1])


def test_a_real_leak_is_predicted_before_the_kernel_kills(cgroup: Path) -> None:
    start = [sys.executable, "-c", WORKER, str(cgroup)]
    big = subprocess.Popen([*start, "56", "0"])
    leaky = subprocess.Popen([*start, "4", "3"])
    samplers = {"leaky": (ProcessSampler("leaky"), leaky), "big": (ProcessSampler("big"), big)}
    trend = TrendPolicy(min_duration=4.0, duration_fraction=0.35)
    predictor = CrashPredictor(CrashPolicy(horizon=60.0, critical=10.0, trend=trend))
    predicted = None
    try:
        deadline = time.monotonic() + 30
        while _oom_kills(cgroup) == 0 and time.monotonic() < deadline:
            samples = []
            for sampler, proc in samplers.values():
                samples += sampler.sample(proc.pid)
            for symptom in predictor.observe(samples):
                if symptom.kind == OOM_PREDICTED and predicted is None:
                    predicted = symptom
            time.sleep(0.5)
        killed_at = time.time()
        assert _oom_kills(cgroup) == 1, "the kernel killed within 30 s"
    finally:
        for proc in (leaky, big):
            proc.kill()
            proc.wait(timeout=5)

    assert predicted is not None, "predicted before the kill"
    assert predicted.entity == "service:leaky", "attributed by growth, not size"
    assert predicted.evidence["culprit"] == "leaky"
    assert killed_at - predicted.ts >= 2.0
    candidates = {c["service"]: c for c in predicted.evidence["candidates"]}
    assert candidates["big"]["rss_bytes"] > candidates["leaky"]["rss_bytes"]
