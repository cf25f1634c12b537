"""The agent's background forecasts against a real SQLite store, time driven by the test."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from setpoint.analyze.forecasting.forecaster import ForecastPolicy
from setpoint.analyze.forecasting.keeper import BREACH, ForecastKeeper, KeeperPolicy, Limit
from setpoint.clock import ManualClock
from setpoint.config.loader import default_actuators
from setpoint.config.models import Config
from setpoint.daemon import Agent
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import open_store
from setpoint.model import HOST, Sample, Symptom, SymptomState

pytest.importorskip("statsmodels")

T0 = 1_700_006_400.0
DAY = 86400.0


def fill(
    store: KnowledgeStore,
    start: float,
    end: float,
    level: float = 0.0,
    series: str = "host.load1",
    entity: str = HOST,
) -> None:
    """``series`` of ``entity`` once a minute: a daily sine around 2 (plus ``level``)."""
    ts = np.arange(start, end, 60.0)
    values = 2 + level + np.sin(2 * np.pi * ts / DAY)
    store.samples.append(
        [Sample(series, float(v), float(t), entity) for t, v in zip(ts, values, strict=True)]
    )


def keeper_for(
    store: KnowledgeStore, idle: list[bool], emitted: list[Symptom], **kw: object
) -> ForecastKeeper:
    policy = KeeperPolicy(
        ((HOST, "host.load1"), (HOST, "host.absent")),
        ForecastPolicy(history=4 * DAY),
        **kw,  # type: ignore[arg-type]
    )
    return ForecastKeeper(policy, store.samples, emitted.append, idle=lambda: idle[0])


def test_fits_only_while_idle_then_updates_with_new_buckets(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        fill(store, T0, T0 + 3 * DAY)
        idle, emitted = [False], []  # type: ignore[var-annotated]
        keeper = keeper_for(store, idle, emitted)
        keeper.refresh(T0 + 3 * DAY)
        status = keeper.status()["host"]
        assert "waiting for the host to be idle" in status["host.load1"]["error"]
        assert status["host.absent"] == {"error": "no samples yet"}
        idle[0] = True
        keeper.refresh(T0 + 3 * DAY)
        first = keeper.status()["host"]["host.load1"]
        assert first["model"] == "ETS(A,N,A) season 96" and first["origin"] == T0 + 3 * DAY
        assert [p["horizon"] for p in first["points"]] == [3600.0, 21600.0, 86400.0]
        fill(store, T0 + 3 * DAY, T0 + 3 * DAY + 3600)
        idle[0] = False  # busy: the old parameters run over the new hour
        keeper.refresh(T0 + 3 * DAY + 3600)
        later = keeper.status()["host"]["host.load1"]
        assert later["origin"] == T0 + 3 * DAY + 3600 and later["fitted_at"] == first["fitted_at"]
        assert later["history"] == first["history"] + 4
        expected = 2 + np.sin(2 * np.pi * (later["points"][0]["ts"] - 450) / DAY)
        assert abs(later["points"][0]["mean"] - expected) < 0.1
    assert emitted == []


def test_breach_fires_while_the_interval_crosses_the_limit_and_clears(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        fill(store, T0, T0 + 3 * DAY)
        emitted: list[Symptom] = []
        keeper = keeper_for(store, [True], emitted, limits={(HOST, "host.load1"): Limit(above=2.5)})
        keeper.refresh(T0 + 3 * DAY)
        (fired,) = emitted
        assert (
            fired.kind == BREACH and fired.entity == "host" and fired.state is SymptomState.FIRING
        )
        assert fired.evidence["above"] == 2.5 and fired.evidence["interval"][1] > 2.5
        assert "crosses the limit above 2.5" in fired.evidence["reason"]
        keeper.refresh(T0 + 3 * DAY)
        assert len(emitted) == 1  # still firing: not raised again
        fill(store, T0 + 3 * DAY, T0 + 4 * DAY, level=-1.5)  # the load drops for a day
        keeper.refresh(T0 + 4 * DAY)
        assert emitted[-1].state is SymptomState.CLEARED and emitted[-1].clears == fired.id


def test_each_services_series_is_forecast_and_judged_on_its_own(tmp_path: Path) -> None:
    """web and api both have service.rss_bytes: api's sits 10 higher; only web has a limit."""
    with open_store(None, tmp_path) as store:
        fill(store, T0, T0 + 3 * DAY, series="service.rss_bytes", entity="service:web")
        fill(store, T0, T0 + 3 * DAY, 10.0, series="service.rss_bytes", entity="service:api")
        fill(store, T0, T0 + 3 * DAY, 100.0)  # the host's load: neither service's business
        watched = ("service:web", "service:api", "service:gone")
        policy = KeeperPolicy(
            tuple((entity, "service.rss_bytes") for entity in watched),
            ForecastPolicy(history=4 * DAY),
            limits={("service:web", "service.rss_bytes"): Limit(above=2.5)},
        )
        emitted: list[Symptom] = []
        keeper = ForecastKeeper(policy, store.samples, emitted.append, idle=lambda: True)
        keeper.refresh(T0 + 3 * DAY)
        status = keeper.status()
        assert sorted(status) == sorted(watched)
        assert status["service:gone"] == {"service.rss_bytes": {"error": "no samples yet"}}
        for entity, level in (("service:web", 0.0), ("service:api", 10.0)):
            made = status[entity]["service.rss_bytes"]
            assert made["entity"] == entity and made["key"] == "service.rss_bytes"
            for point in made["points"]:
                expected = 2 + level + np.sin(2 * np.pi * (point["ts"] - 450) / DAY)
                assert abs(point["mean"] - expected) < 0.1
        (fired,) = emitted
        assert fired.kind == BREACH and fired.entity == "service:web"
        assert fired.evidence["series"] == "service.rss_bytes"
        assert "'service.rss_bytes' on service:web" in fired.evidence["reason"]


def test_the_thread_runs_a_pass_at_start_and_stops(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        fill(store, T0, T0 + 3 * DAY)
        fired = threading.Event()
        policy = KeeperPolicy(
            ((HOST, "host.load1"),),
            ForecastPolicy(history=4 * DAY),
            limits={(HOST, "host.load1"): Limit(below=3)},
        )
        keeper = ForecastKeeper(
            policy, store.samples, lambda s: fired.set(), lambda: True, ManualClock(T0 + 3 * DAY)
        )
        keeper.start()
        try:
            assert fired.wait(60)
        finally:
            keeper.stop()
        assert keeper.status()["host"]["host.load1"]["model"].startswith("ETS")


async def test_the_agent_shows_forecasts_in_status_and_opens_an_incident_on_breach(
    tmp_path: Path,
) -> None:
    now = time.time()
    config = Config.model_validate(
        {
            "sensors": {"host": False},
            "forecast": {
                "enabled": True,
                "series": [
                    "host.load1",
                    {"series": "service.rss_bytes", "service": "web", "below": 3.5},
                ],
                "history": "4d",
                "idle_load": 1000,
                "limits": {"host.load1": {"above": 0.5}},
            },
        }
    )
    # Both series swing from 1 to 3 over the (real) day, so these limits are crossed at
    # any time of day: the test is of the wiring, not of where the forecast goes.
    store = open_store(None, tmp_path)
    fill(store, now - 3 * DAY, now)
    fill(store, now - 3 * DAY, now, series="service.rss_bytes", entity="service:web")
    agent = Agent(config, store, tmp_path, default_actuators())
    assert agent.status()["forecasts"] is None
    await agent.start()
    try:
        deadline = time.monotonic() + 60
        entities = ("host", "service:web")
        while time.monotonic() < deadline and not all(map(agent.incidents.current, entities)):
            await asyncio.sleep(0.05)
        for entity in entities:
            incident = agent.incidents.current(entity)
            assert incident is not None and incident.kinds == (BREACH,)
        forecasts = agent.status()["forecasts"]
        forecast = forecasts["host"]["host.load1"]
        assert forecast["model"] == "ETS(A,N,A) season 96" and len(forecast["points"]) == 3
        assert forecasts["service:web"]["service.rss_bytes"]["entity"] == "service:web"
    finally:
        await agent.stop()
        agent.close()
