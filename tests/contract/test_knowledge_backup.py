"""Backup, restore and analytics agree across backends: same records, same answers.

Every pair of backends (SQLite to SQLite, SQLite to PostgreSQL, ...) is tried, so a
dump or an SQLite backup file restores into any store, and the decision analytics of
the restored store equal the original's.
"""

from __future__ import annotations

import itertools
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from setpoint.errors import KnowledgeError
from setpoint.knowledge import backup
from setpoint.knowledge.base import DecisionFilter, KnowledgeStore
from setpoint.knowledge.sqlite import SQLiteStore
from setpoint.knowledge.store import SQLStore
from setpoint.model import AuditEntry, OperationalMode, OutcomeStatus, Sample, Symptom
from tests.contract.test_knowledge_stores import BACKENDS, decision, outcome

PAIRS = list(itertools.product(sorted(BACKENDS), repeat=2))


def fill(store: KnowledgeStore) -> None:
    """Forty decisions over two actions and three days, most with outcomes, and the rest."""
    statuses = [OutcomeStatus.SUCCESS, OutcomeStatus.FAILED, OutcomeStatus.PARTIAL]
    for i in range(40):
        action = "service.restart" if i % 3 else "service.signal"
        made = decision(f"d{i:02d}", 1000.0 + i * 6000.0, action=action)
        store.decisions.record(made)
        if i % 5:
            status = statuses[i % 3]
            store.decisions.record_outcome(outcome(made.id, made.ts + 30.0, status, i / 40 - 0.3))
    store.decisions.record(decision("energy", 5.0, operational=OperationalMode.ENERGY_EFFICIENT))
    store.decisions.add_feedback("d01", {"rating": 1})
    store.samples.append(
        [Sample("cpu", i / 10, 100.0 + i, labels={"core": "0"}) for i in range(50)]
    )
    store.samples.retain(8000.0, keep_samples=1e9, keep_hourly=1e9)
    store.symptoms.record(Symptom("service.down", "service:web", 10.0, id="s1", incident_id="i"))
    for i in range(5):
        store.audit.append(AuditEntry(float(i), "gate", "verdict", "web", {"i": i}, f"d{i:02d}"))


def analytics(store: KnowledgeStore) -> dict[str, Any]:
    """Everything a user can ask the store about decisions, and a look at the rest."""
    return {
        "rate": store.decisions.success_rate(),
        "rate_window": store.decisions.success_rate(start_time=50_000.0, end_time=150_000.0),
        "trend_day": store.decisions.reward_trend(86400.0),
        "trend_hour": store.decisions.reward_trend(3600.0, start_time=20_000.0),
        "list": store.decisions.list(DecisionFilter(limit=1000)),
        "failed": store.decisions.list(DecisionFilter(outcome="failed", start_time=30_000.0)),
        "energy": store.decisions.list(DecisionFilter(mode="energy_efficient")),
        "samples": store.samples.query(limit=1000),
        "hourly": store.samples.hourly('cpu{core="0"}'),
        "symptoms": store.symptoms.for_incident("i"),
        "audit": store.audit.list(),
    }


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_restore_gives_identical_analytics(source: str, target: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        origin = stack.enter_context(BACKENDS[source](tmp_path / "a")).open()
        stack.callback(origin.close)
        fill(origin)
        expected = analytics(origin)
        file = tmp_path / "backup"
        if isinstance(origin, SQLiteStore):
            origin.backup(file)
        else:
            assert isinstance(origin, SQLStore)
            backup.dump(origin, file)
        copy = stack.enter_context(BACKENDS[target](tmp_path / "b")).open()
        stack.callback(copy.close)
        assert isinstance(copy, SQLStore)
        counts = backup.restore(copy, file)
        assert counts["decisions"] == 41 and counts["outcomes"] == 32
        assert analytics(copy) == expected

        with pytest.raises(KnowledgeError, match=r"not empty.*--force"):
            backup.restore(copy, file)
        backup.restore(copy, file, force=True)
        assert analytics(copy) == expected
        # The restored store goes on numbering its own rows.
        copy.audit.append(AuditEntry(99.0, "gate", "verdict", "web"))
        assert copy.audit.list()[-1].ts == 99.0


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_dump_round_trips_within_a_backend(name: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        origin = stack.enter_context(BACKENDS[name](tmp_path / "a")).open()
        stack.callback(origin.close)
        assert isinstance(origin, SQLStore)
        fill(origin)
        counts = backup.dump(origin, tmp_path / "dump.jsonl.gz")
        assert counts["samples"] == 50 and "schema_migrations" not in counts
        copy = stack.enter_context(BACKENDS[name](tmp_path / "b")).open()
        stack.callback(copy.close)
        assert isinstance(copy, SQLStore)
        assert backup.restore(copy, tmp_path / "dump.jsonl.gz") == counts
        assert analytics(copy) == analytics(origin)


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    with BACKENDS["sqlite"](tmp_path) as made:
        store = made.open()
        try:
            assert isinstance(store, SQLStore)
            junk = tmp_path / "junk"
            junk.write_text("hello")
            with pytest.raises(KnowledgeError, match="neither an SQLite store nor"):
                backup.restore(store, junk)
            with pytest.raises(KnowledgeError, match="cannot read"):
                backup.restore(store, tmp_path / "missing")
        finally:
            store.close()


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_a_dump_taken_while_the_agent_writes_restores(name: str, tmp_path: Path) -> None:
    """The dump is one snapshot: never an outcome without its decision."""
    with ExitStack() as stack:
        origin = stack.enter_context(BACKENDS[name](tmp_path / "a")).open()
        stack.callback(origin.close)
        assert isinstance(origin, SQLStore)
        stop, written = threading.Event(), [0]

        def agent() -> None:
            deadline = time.monotonic() + 20
            while not stop.is_set() and time.monotonic() < deadline:
                made = decision(f"w{written[0]:05d}", 1000.0 + written[0])
                origin.decisions.record(made)
                origin.decisions.record_outcome(
                    outcome(made.id, made.ts + 1, OutcomeStatus.SUCCESS, 1.0)
                )
                written[0] += 1

        writer = threading.Thread(target=agent)
        writer.start()
        try:
            deadline = time.monotonic() + 10
            while written[0] < 50 and time.monotonic() < deadline:
                time.sleep(0.01)
            counts = backup.dump(origin, tmp_path / "dump.jsonl.gz")
        finally:
            stop.set()
            writer.join(timeout=30)
        copy = stack.enter_context(BACKENDS[name](tmp_path / "b")).open()
        stack.callback(copy.close)
        assert isinstance(copy, SQLStore)
        assert backup.restore(copy, tmp_path / "dump.jsonl.gz") == counts
        assert counts["outcomes"] <= counts["decisions"]
