"""The decision analytics answer from hourly counters exactly as the raw queries did.

The reference here is the SQL ``success_rate`` and ``reward_trend`` ran before the
counters existed, over every outcome. Every backend must give the same answers from
its counters: after outcome writes, after migration 0007 back-fills a store that had
outcomes, and after a restore rebuilds them, for whole-history and windowed queries
whose edges fall on, just beside and between hour boundaries.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest

from setpoint.knowledge import backup
from setpoint.knowledge.base import KnowledgeStore, RewardPoint, SuccessRate
from setpoint.knowledge.database import Connection, where_clause
from setpoint.knowledge.migrate import apply_sqlite_migrations, load_migrations
from setpoint.knowledge.open import open_store
from setpoint.knowledge.sqlite import SQLiteStore
from setpoint.knowledge.store import SQLStore
from setpoint.model import Decision, Outcome, OutcomeStatus
from tests.contract.test_knowledge_stores import BACKENDS, decision
from tests.postgres import throwaway_schema

T0 = 1_700_000_400.0
"""Two days of decisions start here, 400 s past an hour boundary."""

ACTIONS = ("service.restart", "service.signal", "process.kill")
DYADIC_REWARDS = (1.0, -0.5, -1.0, 0.0, 0.25)
"""Rewards whose sums are exact in binary floating point, as the agent's (1, -0.5, -1)."""


def history(seed: int, count: int, rewards: tuple[float, ...] | None) -> list[Decision | Outcome]:
    """Decisions over two days, some on or a rounding step beside an hour, and outcomes.

    ``rewards`` None draws arbitrary floats; otherwise rewards are drawn from it.
    """
    rng = random.Random(seed)
    rows: list[Decision | Outcome] = []
    for i in range(count):
        ts = T0 + rng.uniform(0.0, 2 * 86400.0)
        if i % 10 == 0:
            hour = 3600.0 * round(ts / 3600.0)
            ts = rng.choice([hour, hour + 1e-6, hour - 1e-6, hour - 0.5])
        made = decision(f"d{i:04d}", ts, action=rng.choice(ACTIONS))
        rows.append(made)
        if rng.random() < 0.8:
            status = rng.choice(list(OutcomeStatus))
            reward = rng.uniform(-1.0, 1.0) if rewards is None else rng.choice(rewards)
            late = rng.choice([0.0, 30.0, rng.uniform(0.0, 7200.0)])
            rows.append(Outcome(made.id, ts + late, status, {}, reward))
    return rows


def fill(store: KnowledgeStore, rows: list[Decision | Outcome]) -> None:
    for row in rows:
        if isinstance(row, Decision):
            store.decisions.record(row)
        else:
            store.decisions.record_outcome(row)


def reference_success_rate(
    store: SQLStore, start: float | None = None, end: float | None = None
) -> SuccessRate:
    """``success_rate`` as it was computed before the counters: over every outcome."""
    clause, params = where_clause(("d.ts >= ?", start), ("d.ts <= ?", end))
    sql = (
        "SELECT d.action, o.status, count(*) AS n FROM decisions AS d"
        f" JOIN outcomes AS o ON o.decision_id = d.id {clause}"
        " GROUP BY d.action, o.status ORDER BY d.action"
    )
    per_action: dict[str, dict[OutcomeStatus, int]] = {}
    with store.db.read("reference success rate") as conn:
        for row in conn.execute(sql, params):
            counts = per_action.setdefault(row["action"], dict.fromkeys(OutcomeStatus, 0))
            counts[OutcomeStatus(row["status"])] = int(row["n"])
    totals = {s: sum(c[s] for c in per_action.values()) for s in OutcomeStatus}
    total = sum(totals.values())

    def counted(counts: dict[OutcomeStatus, int]) -> dict[str, float | int | None]:
        n = sum(counts.values())
        success = counts[OutcomeStatus.SUCCESS]
        return {
            "total": n,
            "success": success,
            "partial": counts[OutcomeStatus.PARTIAL],
            "failed": counts[OutcomeStatus.FAILED],
            "rate": success / n if n else None,
        }

    return SuccessRate(
        total=total,
        success=totals[OutcomeStatus.SUCCESS],
        partial=totals[OutcomeStatus.PARTIAL],
        failed=totals[OutcomeStatus.FAILED],
        rate=totals[OutcomeStatus.SUCCESS] / total if total else None,
        by_action={action: counted(counts) for action, counts in per_action.items()},
    )


def reference_reward_trend(
    store: SQLStore, bucket: float, start: float | None = None, end: float | None = None
) -> list[RewardPoint]:
    """``reward_trend`` as it was computed before the counters: over every outcome."""
    clause, params = where_clause(("ts >= ?", start), ("ts <= ?", end))
    sql = (
        "SELECT floor(ts / ?) AS bucket, avg(reward) AS mean, count(*) AS n"
        f" FROM outcomes {clause} GROUP BY bucket ORDER BY bucket"
    )
    with store.db.read("reference reward trend") as conn:
        return [
            RewardPoint(float(row["bucket"]) * bucket, float(row["mean"]), int(row["n"]))
            for row in conn.execute(sql, [bucket, *params])
        ]


def windows() -> list[tuple[float | None, float | None]]:
    """Whole history, open-ended and closed windows, edges on, beside and off the hour."""
    hour = 3600.0 * (T0 // 3600.0 + 5)
    edges = [hour, hour + 1e-6, hour - 1e-6, hour - 0.5, hour + 0.999, hour + 1234.5]
    found: list[tuple[float | None, float | None]] = [(None, None)]
    for edge in edges:
        found += [(edge, None), (None, edge + 86400.0), (edge, edge + 30 * 3600.0 + 0.25)]
    found += [(hour + 100.0, hour + 3000.0), (hour - 10.0, hour + 3601.5), (hour, hour + 7200.0)]
    return found


BUCKETS = (3600.0, 7200.0, 10800.0, 86400.0, 100.0, 900.0, 5400.0)


def assert_same_analytics(store: KnowledgeStore) -> None:
    assert isinstance(store, SQLStore)
    for start, end in windows():
        got = store.decisions.success_rate(start, end)
        assert got == reference_success_rate(store, start, end), (start, end)
        for bucket in BUCKETS:
            trend = store.decisions.reward_trend(bucket, start, end)
            assert trend == reference_reward_trend(store, bucket, start, end), (
                bucket,
                start,
                end,
            )


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeStore]:
    with BACKENDS[request.param](tmp_path) as backend:
        opened = backend.open()
        yield opened
        opened.close()


def test_counters_answer_as_the_raw_queries(store: KnowledgeStore) -> None:
    rows = history(seed=5, count=300, rewards=DYADIC_REWARDS)
    fill(store, rows)
    assert store.decisions.success_rate().total == sum(isinstance(r, Outcome) for r in rows)
    assert_same_analytics(store)


def test_arbitrary_rewards_agree_to_rounding(store: KnowledgeStore) -> None:
    """Sums of arbitrary floats depend on their order (in either engine): counts agree
    exactly, means to a rounding step."""
    assert isinstance(store, SQLStore)
    fill(store, history(seed=9, count=120, rewards=None))
    for bucket in (3600.0, 86400.0):
        for start, end in windows():
            got = store.decisions.reward_trend(bucket, start, end)
            want = reference_reward_trend(store, bucket, start, end)
            assert [(p.bucket_start, p.count) for p in got] == [
                (p.bucket_start, p.count) for p in want
            ]
            assert [p.mean_reward for p in got] == pytest.approx(
                [p.mean_reward for p in want], rel=1e-12, abs=1e-15
            )


DECISION_COLUMNS = (
    'id, ts, "trigger", entity, playbook, action, target, gate_mode, verdict, operational_mode'
)


def insert_raw(conn: Connection, rows: list[Decision | Outcome]) -> None:
    """Insert rows with SQL, as a store of schema 0006 held them (no counters)."""
    conn.executemany(
        f"INSERT INTO decisions ({DECISION_COLUMNS}) VALUES (?, ?, 't', 'e', 'p', ?, 'x',"
        " 'auto', 'execute', 'BALANCED')",
        [(r.id, r.ts, r.action) for r in rows if isinstance(r, Decision)],
    )
    conn.executemany(
        "INSERT INTO outcomes (decision_id, ts, status, reward) VALUES (?, ?, ?, ?)",
        [(r.decision_id, r.ts, r.status.value, r.reward) for r in rows if isinstance(r, Outcome)],
    )


@contextmanager
def store_from_schema_0006(
    name: str, tmp_path: Path, rows: list[Decision | Outcome]
) -> Iterator[KnowledgeStore]:
    """A store made at schema 0006 holding ``rows``, then opened (and so migrated)."""
    if name == "sqlite":
        path = tmp_path / "old.db"
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            apply_sqlite_migrations(conn, load_migrations("sqlite")[:6], now=0.0)
            with conn:
                conn.execute("BEGIN")
                insert_raw(cast(Connection, conn), rows)
        finally:
            conn.close()
        with open_store(f"sqlite:///{path}", tmp_path) as store:
            yield store
        return
    import psycopg
    from psycopg.rows import dict_row

    from setpoint.knowledge.postgres import apply_postgres_migrations
    from setpoint.knowledge.postgres_connection import PostgresConnection

    with throwaway_schema() as (url, schema):
        server = url.split("?")[0]
        options = f"-c search_path={schema}"
        with psycopg.connect(server, autocommit=True, row_factory=dict_row, options=options) as raw:
            pg = PostgresConnection(raw)
            apply_postgres_migrations(pg, schema, load_migrations("postgresql")[:6], 0.0)
            with raw.transaction():
                insert_raw(pg, rows)
        with open_store(url, tmp_path) as store:
            yield store


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_migration_0007_back_fills_the_counters(name: str, tmp_path: Path) -> None:
    rows = history(seed=11, count=200, rewards=DYADIC_REWARDS)
    with store_from_schema_0006(name, tmp_path, rows) as store:
        assert isinstance(store, SQLStore)
        assert store.decisions.success_rate().total == sum(isinstance(r, Outcome) for r in rows)
        assert_same_analytics(store)


@pytest.mark.parametrize("target", sorted(BACKENDS))
def test_restore_rebuilds_the_counters_whatever_the_backup_holds(
    target: str, tmp_path: Path
) -> None:
    with BACKENDS["sqlite"](tmp_path / "a") as made:
        origin = made.open()
        try:
            assert isinstance(origin, SQLiteStore)
            fill(origin, history(seed=3, count=150, rewards=DYADIC_REWARDS))
            expected = [
                origin.decisions.success_rate(),
                origin.decisions.success_rate(T0 + 20_000.5, T0 + 90_000.0),
                origin.decisions.reward_trend(86400.0),
                origin.decisions.reward_trend(3600.0, T0 + 10_000.0),
            ]
            file = tmp_path / "backup.db"
            origin.backup(file)
            assert "decision_stats" not in backup.dump(origin, tmp_path / "dump.gz")
        finally:
            origin.close()
    # Counters in the backup that disagree with its outcomes are not believed.
    conn = sqlite3.connect(file)
    try:
        with conn:
            conn.execute("UPDATE decision_stats SET n = n + 5")
            conn.execute("DELETE FROM reward_stats WHERE hour > ?", (T0 + 50_000.0,))
    finally:
        conn.close()
    with BACKENDS[target](tmp_path / "b") as made:
        copy = made.open()
        try:
            assert isinstance(copy, SQLStore)
            counts = backup.restore(copy, file)
            assert "decision_stats" not in counts and "reward_stats" not in counts
            assert [
                copy.decisions.success_rate(),
                copy.decisions.success_rate(T0 + 20_000.5, T0 + 90_000.0),
                copy.decisions.reward_trend(86400.0),
                copy.decisions.reward_trend(3600.0, T0 + 10_000.0),
            ] == expected
            backup.restore(copy, tmp_path / "dump.gz", force=True)
            assert_same_analytics(copy)
            assert copy.decisions.reward_trend(86400.0) == expected[2]
        finally:
            copy.close()
