"""Forecasts kept in the foveal worker process, against a real SQLite store in tmp_path.

Each test starts its own worker (``python -m setpoint.analyze.foveal.worker``) and stops it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from setpoint.analyze.forecasting.keeper import BREACH, ForecastKeeper
from setpoint.analyze.foveal.worker import ForecastJob, FovealWorker
from setpoint.clock import ManualClock
from setpoint.config.forecast import ForecastConfig
from setpoint.config.foveal import ChangePointConfig, ForestConfig, FovealConfig
from setpoint.knowledge.open import open_store
from setpoint.model import HOST, Sample, Symptom, SymptomState
from tests.unit.analyze.test_forecast_keeper import DAY, T0, fill

pytest.importorskip("statsmodels")
pytest.importorskip("ruptures")

WEB = "service:web"
FOVEAL = FovealConfig(changepoint=ChangePointConfig(sustain=30), forest=ForestConfig(enabled=False))


def job(tmp_path: Path, **settings: Any) -> ForecastJob:
    """Forecasts of the host's load from the SQLite store in ``tmp_path``, always idle."""
    config = ForecastConfig.model_validate(
        {"series": ["host.load1"], "history": "4d", "idle_load": 1000, **settings}
    )
    return ForecastJob(config.keeper(), None, tmp_path)


async def until(predicate: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def forecast(worker: FovealWorker, entity: str, key: str) -> dict[str, Any] | None:
    """The worker's forecast of one series, once it has a model."""
    made = (worker.forecasts() or {}).get(entity, {}).get(key, {})
    return made if "model" in made else None


async def test_the_worker_forecasts_from_the_store_and_sends_the_breach(tmp_path: Path) -> None:
    now = time.time()
    with open_store(None, tmp_path) as store:
        fill(store, now - 3 * DAY, now)  # swings from 1 to 3 every day: above 0.5 any time
    out: list[Symptom] = []
    worker = FovealWorker(
        FOVEAL, out.append, forecast=job(tmp_path, limits={"host.load1": {"above": 0.5}})
    )
    assert worker.forecasts() is None
    await worker.start()
    try:
        assert worker.forecasts() == {HOST: {"host.load1": {"error": "not forecast yet"}}}
        await until(lambda: forecast(worker, HOST, "host.load1") and out, "forecast and breach")
        made = forecast(worker, HOST, "host.load1")
        assert made is not None and made["model"] == "ETS(A,N,A) season 96"
        assert [p["horizon"] for p in made["points"]] == [3600.0, 21600.0, 86400.0]
        assert [i["level"] for i in made["points"][0]["intervals"]] == [0.8, 0.95]
        [breach] = out
        assert breach.kind == BREACH and breach.entity == HOST
        assert breach.state is SymptomState.FIRING and breach.evidence["above"] == 0.5
        assert worker.status()["firing"] == 1 and worker.pid is not None
    finally:
        await worker.stop()


async def test_a_worker_with_the_foveal_tier_disabled_still_forecasts(tmp_path: Path) -> None:
    now = time.time()
    with open_store(None, tmp_path) as store:
        fill(store, now - 3 * DAY, now)
    worker = FovealWorker(FovealConfig(enabled=False), print, forecast=job(tmp_path))
    await worker.start()
    try:
        await until(lambda: forecast(worker, HOST, "host.load1"), "a forecast")
        assert not worker.accepting  # no ticks for a disabled tier
    finally:
        await worker.stop()


async def test_a_salient_entity_gets_a_forecast_without_configuration(tmp_path: Path) -> None:
    """web's latency is in the store; once foveal looks at web, its series are forecast."""
    now = time.time()
    with open_store(None, tmp_path) as store:
        fill(store, now - 3 * DAY, now, series="web.latency", entity=WEB)
    worker = FovealWorker(FOVEAL, print, forecast=job(tmp_path))
    await worker.start()
    try:
        await until(lambda: worker.state == "running", "the worker to run")
        deadline = time.monotonic() + 90
        t = 0
        while not forecast(worker, WEB, "web.latency"):
            assert time.monotonic() < deadline, worker.forecasts()
            tick = [Sample("web.latency", 100.0, t, WEB), Sample("web.errors", 0.0, t, WEB)]
            worker.submit(tick, {WEB: 1.0})
            await until(lambda: worker.pending == 0, f"tick {t} to be done")
            await asyncio.sleep(0.02)
            t += 1
        shown = worker.forecasts()
        assert shown is not None and worker.looks >= 1
        assert shown[WEB]["web.errors"] == {"error": "no samples yet"}
        made = shown[WEB]["web.latency"]
        assert made["entity"] == WEB and len(made["points"]) == 3
        assert shown[HOST]["host.load1"] == {"error": "no samples yet"}
    finally:
        await worker.stop()


def test_salient_series_are_bounded_and_dropped_after_keep(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        clock = ManualClock(T0)
        policy = job(tmp_path, salient_series=2, salient_keep="1h").policy
        keeper = ForecastKeeper(policy, store.samples, print, lambda: True, clock)
        web = [(WEB, key) for key in ("a", "b", "c")]
        keeper.look([(HOST, "host.load1"), *web])  # a configured series takes no slot
        assert list(keeper.status()[WEB]) == ["a", "b"]
        clock.advance(1800)
        keeper.look([web[0]])
        clock.advance(1801)
        keeper.look([web[2]])  # b has not been looked at for over an hour: c takes its slot
        assert list(keeper.status()[WEB]) == ["a", "c"]
