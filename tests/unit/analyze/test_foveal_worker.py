"""The foveal worker process: real ticks in, real symptoms out, restarts, stop, backpressure.

Every test starts its own worker (``python -m setpoint.analyze.foveal.worker``) and stops
it; a worker it SIGSTOPs is sent SIGCONT or killed before the test ends.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from setpoint.analyze.foveal.attention import DEGRADATION, Foveal
from setpoint.analyze.foveal.worker import WINDOW, FovealWorker, frame, unframe
from setpoint.config.foveal import ChangePointConfig, ForestConfig, FovealConfig
from setpoint.model import Sample, Severity, Symptom, SymptomState
from tests.integration.harness import pid_alive

WEB = "service:web"
CONFIG = FovealConfig(changepoint=ChangePointConfig(sustain=30), forest=ForestConfig(enabled=False))


def latency(t: int, step: bool = True) -> tuple[list[Sample], dict[str, float]]:
    """The attention doctest's tick ``t``: 100 ms, 160 ms from tick 120 when ``step``."""
    ms = 100.0 + t % 3 + (60.0 if step and t >= 120 else 0.0)
    salient = 1.0 if step and t >= 120 else 0.0
    return [Sample("web.latency", ms, float(t), entity=WEB)], {WEB: salient}


async def until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


async def feed(
    worker: FovealWorker, ticks: range, done: Callable[[], bool], step: bool = True
) -> None:
    """Send ticks one at a time, each once the last is done, until ``done()``.

    While the worker's libraries load (on its thread) ticks go slower, so that history
    is still there to look at when they are in.
    """
    for t in ticks:
        worker.submit(*latency(t, step))
        await until(lambda: worker.pending == 0, f"tick {t} to be done")
        if done():
            return
        if not worker.loaded:
            await asyncio.sleep(0.02)
    raise AssertionError(f"ticks {ticks} ran out; worker: {worker.status()}")


def ignored(pid: int) -> set[int]:
    """The signals ``pid`` ignores, from ``/proc``."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn:"))
    return {n for n in range(1, 64) if mask >> (n - 1) & 1}


@pytest.fixture
async def made() -> AsyncIterator[Callable[..., FovealWorker]]:
    workers: list[FovealWorker] = []

    def make(out: list[Symptom], **kwargs: Any) -> FovealWorker:
        worker = FovealWorker(CONFIG, out.append, **kwargs)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        if worker.pid is not None:
            os.kill(worker.pid, signal.SIGCONT)
        await asyncio.wait_for(worker.stop(), 30)


def test_a_symptom_round_trips_exactly() -> None:
    firing = Symptom(
        DEGRADATION,
        WEB,
        120.5,
        severity=Severity.CRITICAL,
        evidence={"series": "web.latency", "expected_range": (80.8, 121.2), "value": None},
        incident_id="abc",
    )
    cleared = firing.cleared(200.0, {"series": "web.latency", "value": 101.0})
    back = unframe(frame([firing, cleared])[4:])
    assert back == [firing, cleared]
    assert back[0].evidence["expected_range"] == (80.8, 121.2)
    assert back[1].state is SymptomState.CLEARED and back[1].clears == firing.id


async def test_a_killed_worker_is_restarted_and_clears_what_its_predecessor_fired(
    made: Callable[..., FovealWorker], caplog: pytest.LogCaptureFixture
) -> None:
    out: list[Symptom] = []
    worker = made(out, backoff=(0.1, 1.0))
    await worker.start()
    await until(lambda: worker.state == "running", "the worker to run")
    first = worker.pid
    assert first is not None
    nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + CONFIG.nice)
    assert os.getpriority(os.PRIO_PROCESS, first) == nice

    await feed(worker, range(590), lambda: bool(out))
    [fired] = out
    expected = Foveal(CONFIG)
    assert expected.load()
    ours = [s for t in range(200) for s in expected.observe(*latency(t))]
    assert [(s.kind, s.entity, s.state) for s in ours] == [(DEGRADATION, WEB, fired.state)]
    assert fired.evidence["changed_at"] == ours[0].evidence["changed_at"] == 120.0
    assert fired.evidence["series"] == "web.latency" and fired.evidence["worse"] == "up"
    assert worker.status()["firing"] == 1 and worker.status()["looks"] >= 1

    with caplog.at_level(logging.WARNING, "setpoint.analyze.foveal.worker"):
        os.kill(first, signal.SIGKILL)
        await until(
            lambda: worker.state == "running" and worker.pid not in (None, first), "a new worker"
        )
    assert worker.restarts == 1 and not pid_alive(first)
    [death] = [r.getMessage() for r in caplog.records]
    assert "was killed by SIGKILL" in death and "1 symptom(s) firing handed over" in death

    # The new worker has no history, but it adopted the degradation and clears it
    # once latency is back to normal, naming the symptom the first worker fired.
    await feed(worker, range(600, 700), lambda: len(out) == 2, step=False)
    cleared = out[1]
    assert cleared.state is SymptomState.CLEARED and cleared.clears == fired.id
    assert cleared.evidence["series"] == "web.latency" and worker.status()["firing"] == 0


async def test_stop_leaves_no_worker(made: Callable[..., FovealWorker]) -> None:
    worker = made([])
    await worker.start()
    await until(lambda: worker.state == "running", "the worker to run")
    pid = worker.pid
    assert pid is not None and pid_alive(pid)
    assert {signal.SIGINT, signal.SIGTERM} <= ignored(pid)  # the agent stops it, by stdin
    worker.submit(*latency(0))
    await worker.stop()
    assert not pid_alive(pid) and worker.status()["pid"] is None
    assert worker.state == "stopped" and worker.restarts == 0


async def test_a_worker_that_does_not_exit_is_killed_by_pid(
    made: Callable[..., FovealWorker], caplog: pytest.LogCaptureFixture
) -> None:
    worker = made([], stop_timeout=0.5)
    await worker.start()
    await until(lambda: worker.state == "running", "the worker to run")
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # it cannot read the end of its stdin
    with caplog.at_level(logging.WARNING, "setpoint.analyze.foveal.worker"):
        await worker.stop()
    assert not pid_alive(pid)
    assert any(f"(pid {pid}) still running" in r.getMessage() for r in caplog.records)
    assert worker.restarts == 0


async def test_a_worker_that_falls_behind_loses_the_oldest_ticks_and_counts_them(
    made: Callable[..., FovealWorker],
) -> None:
    worker = made([], queue=8)
    await worker.start()
    await until(lambda: worker.state == "running", "the worker to run")
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        for t in range(30):  # the first WINDOW are written at once, the rest queue
            worker.submit(*latency(t))
        status = worker.status()
        assert (status["ticks_sent"], status["queued"], status["dropped"]) == (WINDOW, 8, 20)
    finally:
        os.kill(pid, signal.SIGCONT)
    await until(lambda: worker.pending == 0, "the queue to drain")
    status = worker.status()
    assert (status["ticks_sent"], status["queued"], status["dropped"]) == (WINDOW + 8, 0, 20)
    assert worker.ticks_done == WINDOW + 8 and worker.restarts == 0


@pytest.mark.parametrize(
    ("sitecustomize", "reason"),
    [
        ('import sys\nsys.modules["ruptures"] = None\n', "No module named 'ruptures'"),
        (None, "its libraries failed to import"),
    ],
    ids=["missing", "broken"],
)
async def test_without_the_ml_extra_the_worker_says_so_once_and_stays_off(
    sitecustomize: str | None,
    reason: str,
    made: Callable[..., FovealWorker],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Missing: ruptures cannot be found. Broken: it is found, but its import fails."""
    if sitecustomize is not None:
        (tmp_path / "sitecustomize.py").write_text(sitecustomize)
    else:
        (tmp_path / "ruptures").mkdir()
        (tmp_path / "ruptures" / "__init__.py").write_text("raise ImportError('broken build')\n")
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(tmp_path), path) if p))
    worker = made([], backoff=(0.05, 0.05))
    with caplog.at_level(logging.WARNING, "setpoint.analyze.foveal.worker"):
        await worker.start()
        deadline = time.monotonic() + 60
        for t in range(120, 100_000):  # salient: the worker tries its libraries
            if worker.state == "off":
                break
            assert time.monotonic() < deadline, worker.status()
            worker.submit(*latency(t))
            await asyncio.sleep(0.01)
        await until(lambda: worker.pid is None, "the worker to exit")
        await asyncio.sleep(0.3)  # six backoffs: time enough to restart, were it to
    offs = [r.getMessage() for r in caplog.records if "foveal attention is off" in r.getMessage()]
    assert len(offs) == 1 and reason in offs[0], offs
    status = worker.status()
    assert (status["state"], status["pid"], status["restarts"]) == ("off", None, 0)
    assert reason in status["off_reason"] and not worker.accepting
    worker.submit(*latency(0))
    assert worker.pending == 0


def test_a_worker_queue_must_hold_a_tick() -> None:
    with pytest.raises(ValueError, match="at least one tick, not 0"):
        FovealWorker(CONFIG, print, queue=0)


def test_an_adopted_degradation_is_judged_once_there_is_history_and_clears_if_gone() -> None:
    foveal = Foveal(CONFIG)
    assert foveal.load()
    evidence = {"series": "web.latency", "before": 101.0, "after": 161.0}
    evidence |= {"relative_change": 0.5941, "changed_at": 120.0, "worse": "up"}
    fired = Symptom(DEGRADATION, WEB, 150.0, evidence=evidence)
    foveal.adopt([fired, fired.cleared(151.0, {})])  # only what fires is adopted

    def tick(t: float) -> list[Symptom]:
        return foveal.observe([Sample("web.errors", 0.0, t, entity=WEB)], {})

    # web.latency no longer reports: looked at, first too little history to judge
    assert tick(0.0) == [] and foveal.looks == 1
    later = [s for t in range(1, 30) for s in tick(float(t))]
    assert [(s.state, s.clears, dict(s.evidence)) for s in later] == [
        (SymptomState.CLEARED, fired.id, {"series": "web.latency", "value": None})
    ]


def pid_gone(worker: FovealWorker, pid: int) -> bool:
    return worker.pid != pid


async def test_a_worker_that_keeps_dying_is_given_up(
    made: Callable[..., FovealWorker], caplog: pytest.LogCaptureFixture
) -> None:
    worker = made([], backoff=(0.05, 0.05), give_up=3)
    await worker.start()
    with caplog.at_level(logging.WARNING, "setpoint.analyze.foveal.worker"):
        for _ in range(3):
            await until(lambda: worker.state == "running", "the worker to run")
            pid = worker.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await until(functools.partial(pid_gone, worker, pid), "the worker to die")
        await until(lambda: worker.state == "off", "the tier to be off")
    assert worker.restarts == 2 and worker.pid is None
    assert (
        worker.status()["off_reason"] == "its worker died 3 times in a row (was killed by SIGKILL)"
    )
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [f"foveal attention is off until setpoint restarts: {worker.off_reason}"]
