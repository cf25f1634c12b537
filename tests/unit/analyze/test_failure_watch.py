"""The failure predictor in the agent: symptoms, reloads, retraining; nothing without a model."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.analyze.failure.dataset import DatasetSpec, build
from setpoint.analyze.failure.files import META_FILE, models_dir
from setpoint.analyze.failure.model import save, train
from setpoint.analyze.failure.retrain import retrain
from setpoint.analyze.failure.watch import PREDICTED, FailureWatch
from setpoint.config.failure import FailureConfig
from setpoint.config.loader import default_actuators
from setpoint.config.models import Config
from setpoint.daemon import Agent
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import open_store
from setpoint.model import SymptomState
from tests.unit.analyze.failure_history import (
    END,
    FLAT,
    LEAKY,
    live_history,
    new_climb,
    standard_history,
    write_history,
)

pytest.importorskip("xgboost", reason="training needs the ml extra")

SERVICES = [entity.removeprefix("service:") for entity in (LEAKY, *FLAT)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KnowledgeStore, Path]]:
    directory = tmp_path_factory.mktemp("watch")
    with open_store(None, directory) as store:
        standard_history(store)
        save(train(build(store, DatasetSpec(), END), END), models_dir(directory))
        yield store, directory


async def test_a_climb_fires_a_prediction_with_its_evidence_and_calm_clears_it(
    trained: tuple[KnowledgeStore, Path],
) -> None:
    store, directory = trained
    fails_at = new_climb(store, END)
    write_history(store, END + 3600.0, END + 7200.0, every=60.0, seed=3, failures=[])
    watch = FailureWatch(FailureConfig(retrain_every=None), directory, store, SERVICES)
    try:
        assert watch.due(fails_at - 300.0)
        fired = await watch.check(fails_at - 300.0)
        assert not watch.due(fails_at - 290.0)
        assert [(s.kind, s.entity, s.state) for s in fired] == [
            (PREDICTED, LEAKY, SymptomState.FIRING)
        ]
        evidence = fired[0].evidence
        assert evidence["probability"] >= 0.7 and evidence["horizon_s"] == 1800.0
        assert "rss_trend" in [f["feature"] for f in evidence["top_features"]]
        assert evidence["reason"].startswith("P(failure within 30 min) = ")
        assert await watch.check(fails_at - 60.0) == []  # still firing: not again
        cleared = await watch.check(END + 7200.0)
        assert [(s.entity, s.state, s.clears) for s in cleared] == [
            (LEAKY, SymptomState.CLEARED, fired[0].id)
        ]
    finally:
        await watch.aclose()


async def test_an_unusable_model_file_is_logged_and_the_loaded_one_kept(
    trained: tuple[KnowledgeStore, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, directory = trained
    (tmp_path / "models").mkdir()
    for name in ("failure.json", META_FILE):
        (tmp_path / "models" / name).write_bytes((models_dir(directory) / name).read_bytes())
    watch = FailureWatch(FailureConfig(retrain_every=None), tmp_path, store, SERVICES)
    try:
        assert {s.entity for s in await watch.check(END - 600.0)} <= {LEAKY}
        (tmp_path / "models" / META_FILE).write_text("{}")
        with caplog.at_level(logging.ERROR):
            await watch.check(END)
        assert f"{tmp_path / 'models' / META_FILE}: unusable" in caplog.text
        assert watch._assessor is not None  # the model loaded before still assesses
    finally:
        await watch.aclose()


def test_without_a_model_nothing_of_the_predictor_is_imported(tmp_path: Path) -> None:
    script = f"""
import asyncio, sys
from pathlib import Path
import setpoint.daemon
from setpoint.analyze.failure.watch import FailureWatch
from setpoint.config.failure import FailureConfig
from setpoint.knowledge.open import open_store
with open_store(None, Path({str(tmp_path)!r})) as store:
    watch = FailureWatch(FailureConfig(), Path({str(tmp_path)!r}), store, ["web"])
    print(asyncio.run(watch.check(1.0)))
    asyncio.run(watch.aclose())
watched = ("xgboost", "sklearn", "setpoint.analyze.failure.")
print(sorted(m for m in sys.modules if m.startswith(watched)))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert out == ["[]", "['setpoint.analyze.failure.files', 'setpoint.analyze.failure.watch']"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KnowledgeStore, Path, float]]:
    """Three days up to the wall clock now, the leaky service well into a climb."""
    directory = tmp_path_factory.mktemp("live")
    now = time.time()
    with open_store(None, directory) as store:
        live_history(store, now)
        save(train(build(store, DatasetSpec(), now), now), models_dir(directory))
        yield store, directory, now


async def test_retraining_runs_setpoint_train_in_a_subprocess(
    live: tuple[KnowledgeStore, Path, float],
) -> None:
    _, directory, now = live
    config = FailureConfig(nice=5, cpu_budget=120.0, history=3 * 86400.0)
    assert await asyncio.wait_for(retrain(directory, config, None), 100)
    meta = json.loads((models_dir(directory) / META_FILE).read_text())
    assert meta["trained_at"] > now and meta["spec"]["history"] == 3 * 86400.0
    assert meta["metrics"]["failures"] >= 8 and meta["metrics"]["auc"] > 0.7


async def test_a_retraining_past_its_cpu_budget_is_stopped(
    live: tuple[KnowledgeStore, Path, float], caplog: pytest.LogCaptureFixture
) -> None:
    _, directory, _ = live
    before = (models_dir(directory) / META_FILE).read_bytes()
    with caplog.at_level(logging.WARNING):
        done = await asyncio.wait_for(retrain(directory, FailureConfig(cpu_budget=1.0), None), 60)
    assert not done and "retraining stopped: it used its 1 s of CPU" in caplog.text
    assert (models_dir(directory) / META_FILE).read_bytes() == before


async def test_the_agent_publishes_the_prediction_and_opens_an_incident(
    live: tuple[KnowledgeStore, Path, float],
) -> None:
    store, directory, _ = live
    services = {n: {"match": f"^no-such-process-{n}$", "restart": ["true"]} for n in SERVICES}
    config = Config.model_validate(
        {"sensors": {"host": False}, "services": services, "failure": {"retrain_every": None}}
    )
    agent = Agent(config, store, directory, default_actuators())
    try:
        await agent.tick()
        await asyncio.wait_for(asyncio.gather(*agent._tasks), 30)
        incident = agent.incidents.current(LEAKY)
        assert incident is not None and incident.kinds == (PREDICTED,)
        assert all(agent.incidents.current(e) is None for e in FLAT)
    finally:
        await agent.stop()
