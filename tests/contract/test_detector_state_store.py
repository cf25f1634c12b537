"""Every KnowledgeStore backend keeps the DetectorStateRepository contract.

The backends and the ``store`` fixture are those of test_knowledge_stores, so a backend
added there runs these checks too.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest

from setpoint.knowledge import backup
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.detector_state import StoredState
from setpoint.knowledge.store import SQLStore
from tests.contract import test_knowledge_stores
from tests.contract.test_knowledge_stores import BACKENDS, Backend

backend = test_knowledge_stores.backend
store = test_knowledge_stores.store


def test_nothing_saved_loads_none(store: KnowledgeStore) -> None:
    assert store.detector_state.load("peripheral") is None
    assert store.detector_state.delete("peripheral") is False


def test_save_load_replace_delete(store: KnowledgeStore) -> None:
    every_byte = bytes(range(256)) * 4  # NUL, high bytes, no text encoding survives this
    store.detector_state.save("peripheral", 1, every_byte, 100.5)
    store.detector_state.save("rolling_median", 1, b'{"version": 1}', 101.0)

    assert store.detector_state.load("peripheral") == StoredState(
        "peripheral", 1, every_byte, 100.5
    )

    store.detector_state.save("peripheral", 2, b"\x00", 200.0)
    assert store.detector_state.load("peripheral") == StoredState("peripheral", 2, b"\x00", 200.0)
    assert store.detector_state.delete("peripheral") is True
    assert store.detector_state.load("peripheral") is None
    assert store.detector_state.load("rolling_median") is not None


def test_a_large_state_survives_reopening(backend: Backend) -> None:
    blob = os.urandom(8 << 20)
    first = backend.open()
    first.detector_state.save("peripheral", 1, blob, 1.0)
    first.close()
    again = backend.open()
    try:
        stored = again.detector_state.load("peripheral")
        assert stored is not None and stored.state == blob
    finally:
        again.close()


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_a_backup_carries_the_state_between_backends(
    source: str, target: str, tmp_path: Path
) -> None:
    blob = bytes(range(256)) * 64
    with ExitStack() as stack:
        origin = stack.enter_context(BACKENDS[source](tmp_path / "a")).open()
        stack.callback(origin.close)
        assert isinstance(origin, SQLStore)
        origin.detector_state.save("peripheral", 1, blob, 7.0)
        backup.dump(origin, tmp_path / "dump.jsonl.gz")
        copy = stack.enter_context(BACKENDS[target](tmp_path / "b")).open()
        stack.callback(copy.close)
        assert isinstance(copy, SQLStore)
        assert backup.restore(copy, tmp_path / "dump.jsonl.gz")["detector_state"] == 1
        assert copy.detector_state.load("peripheral") == StoredState("peripheral", 1, blob, 7.0)
