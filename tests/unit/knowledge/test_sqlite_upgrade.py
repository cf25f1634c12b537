"""The SQLite store across a schema upgrade, and its online backup while writes go on."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from setpoint.knowledge.base import DecisionFilter
from setpoint.knowledge.migrate import apply_sqlite_migrations, load_migrations
from setpoint.knowledge.sqlite import open_sqlite_store
from setpoint.model import Decision, GateMode, Sample, Verdict, VerdictStatus


def test_upgrade_from_0001_keeps_samples_in_their_order(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        apply_sqlite_migrations(conn, load_migrations("sqlite")[:1], now=0.0)
        conn.executemany(
            "INSERT INTO samples (key, series, entity, labels, ts, value)"
            " VALUES (?, ?, 'host', '{}', 5.0, ?)",
            [("b", "b", 1.0), ("a", "a", 2.0), ("c", "c", 3.0)],
        )
    finally:
        conn.close()
    with open_sqlite_store(path) as store:
        assert [s.series for s in store.samples.query()] == ["b", "a", "c"]
        store.samples.append([Sample("a", 4.0, 5.0)])
        assert [s.value for s in store.samples.query()] == [1.0, 2.0, 3.0, 4.0]


def test_online_backup_while_the_agent_writes(tmp_path: Path) -> None:
    path, copy = tmp_path / "setpoint.db", tmp_path / "backup.db"
    stop = threading.Event()
    with open_sqlite_store(path) as store:

        def write() -> None:
            for i in range(2000):
                if stop.is_set():
                    return
                store.decisions.record(
                    Decision(
                        id=f"d{i}",
                        ts=float(i),
                        trigger="t",
                        entity="host",
                        incident_id=None,
                        playbook="p",
                        action="a",
                        target="x",
                        params={},
                        verdict=Verdict(VerdictStatus.EXECUTE, GateMode.AUTO, "ok"),
                    )
                )

        writer = threading.Thread(target=write)
        writer.start()
        try:
            store.backup(copy)
        finally:
            stop.set()
            writer.join(timeout=30.0)
        assert not writer.is_alive()
    # The copy is a complete store of its own, in rollback-journal mode.
    with open_sqlite_store(copy) as restored:
        ids = [r.id for r in restored.decisions.list(DecisionFilter(limit=5000))]
        assert ids == [f"d{i}" for i in reversed(range(len(ids)))]
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
