"""Attention state kept in a real SQLite store: saved on the writer, restored at start.

The last tests run the whole Agent twice over one store, as a restart does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from setpoint.analyze.peripheral import Peripheral, PeripheralConfig
from setpoint.analyze.snapshot import encode
from setpoint.analyze.state_keeper import StateKeeper
from setpoint.config.loader import default_actuators
from setpoint.config.models import Config
from setpoint.daemon import Agent
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import open_store
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import Sample

NAME = "peripheral"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'knowledge.db'}", tmp_path)
    yield opened
    opened.close()


def fed(tier: Peripheral, ticks: int = 60, series: int = 5) -> Peripheral:
    rng = np.random.default_rng(0)
    for t in range(ticks):
        tier.observe([Sample(f"s{i}", 10.0 + rng.normal(), float(t)) for i in range(series)])
    return tier


def keeper_for(tier: Peripheral, store: KnowledgeStore) -> tuple[StateKeeper, StoreWriter]:
    writer = StoreWriter(store)
    return StateKeeper(NAME, tier, store.detector_state, writer, every=60.0), writer


async def test_saves_when_due_and_restores_into_a_new_tier(store: KnowledgeStore) -> None:
    keeper, writer = keeper_for(fed(Peripheral()), store)
    assert await keeper.restore() is False  # nothing saved yet
    keeper.tick(keeper._saved_at + 59.0)
    await writer.drain()
    assert store.detector_state.load(NAME) is None
    keeper.tick(keeper._saved_at + 60.0)
    await writer.drain()
    stored = store.detector_state.load(NAME)
    assert stored is not None and stored.version == 1

    tier = Peripheral()
    fresh, writer = keeper_for(tier, store)
    assert await fresh.restore() is True
    assert len(tier) == 5


async def test_nothing_is_saved_before_restore(store: KnowledgeStore) -> None:
    keeper, writer = keeper_for(fed(Peripheral()), store)
    keeper.save(1e12)
    keeper.tick(1e12)
    await writer.drain()
    assert store.detector_state.load(NAME) is None


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"junk", "unreadable state: File is not a zip file"),
        (encode({"version": 99}), "state version 99; this setpoint reads 1"),
        (
            encode(fed(Peripheral(PeripheralConfig(window=64))).get_state()),
            "state has window 64, the config 256",
        ),
    ],
)
async def test_an_unusable_state_is_refused_with_a_warning_and_replaced_later(
    store: KnowledgeStore, caplog: pytest.LogCaptureFixture, blob: bytes, reason: str
) -> None:
    store.detector_state.save(NAME, 1, blob, 1.0)
    tier = Peripheral()
    keeper, writer = keeper_for(tier, store)
    with caplog.at_level(logging.WARNING):
        assert await keeper.restore() is False
    [record] = caplog.records
    assert record.getMessage() == f"{NAME}: saved state not used, learning from scratch: {reason}"
    assert not record.exc_info  # an expected refusal: one line, no traceback
    assert len(tier) == 0

    fed(tier)
    keeper.save(2.0)
    await writer.drain()
    stored = store.detector_state.load(NAME)
    assert stored is not None and stored.saved_at == 2.0


async def test_an_unreadable_store_keeps_its_state_from_being_overwritten(
    store: KnowledgeStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.detector_state.save(NAME, 1, b"weeks of seasons", 1.0)
    with store.db.write("break the table") as conn:  # type: ignore[attr-defined]
        conn.execute("ALTER TABLE detector_state RENAME TO detector_state_away")
    keeper, writer = keeper_for(fed(Peripheral()), store)
    with caplog.at_level(logging.ERROR):
        assert await keeper.restore() is False
    assert "not saving this run" in caplog.records[-1].getMessage()

    keeper.save(2.0)
    keeper.tick(1e12)
    await writer.drain()
    with store.db.write("mend the table") as conn:  # type: ignore[attr-defined]
        conn.execute("ALTER TABLE detector_state_away RENAME TO detector_state")
    stored = store.detector_state.load(NAME)
    assert stored is not None and stored.state == b"weeks of seasons"


def agent(store: KnowledgeStore, tmp_path: Path) -> Agent:
    config = Config.model_validate({"sensors": {"host": False}, "knowledge": {"state_every": 60}})
    return Agent(config, store, tmp_path, default_actuators())


async def test_the_agent_keeps_its_attention_across_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'knowledge.db'}"
    first = agent(open_store(url, tmp_path), tmp_path)
    await first.start()
    fed(first.attention, ticks=100, series=20)
    await asyncio.wait_for(first.stop(), 30)
    first.close()

    second = agent(open_store(url, tmp_path), tmp_path)
    try:
        await second.start()
        assert len(second.attention) == 20 and second.status()["series"] == 20
        spike = [Sample("s3", 1e6, 100.0)]
        assert second.attention.observe(spike) == [] and second.attention.salience()["host"] == 1
    finally:
        await asyncio.wait_for(second.stop(), 30)
        second.close()
