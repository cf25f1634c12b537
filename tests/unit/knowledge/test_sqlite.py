"""The SQLite store: its file, schema, migrations, crash safety and corruption handling."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import setpoint.knowledge
from setpoint.clock import ManualClock
from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import DecisionFilter, KnowledgeStore
from setpoint.knowledge.migrate import (
    Migration,
    apply_sqlite_migrations,
    load_migrations,
    split_statements,
)
from setpoint.knowledge.sqlite import SQLiteStore, open_sqlite_store
from setpoint.model import (
    AuditEntry,
    Decision,
    GateMode,
    Outcome,
    OutcomeStatus,
    Sample,
    Symptom,
    Verdict,
    VerdictStatus,
)

SRC = Path(setpoint.knowledge.__file__).resolve().parents[2]


def raw(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement on a plain sqlite3 connection, behind the store's back."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            return [tuple(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def make_decision(decision_id: str, ts: float) -> Decision:
    return Decision(
        id=decision_id,
        ts=ts,
        trigger="service.down",
        entity="service:web",
        incident_id="inc1",
        playbook="restart-web",
        action="service.restart",
        target="web.service",
        params={"timeout": 5},
        verdict=Verdict(VerdictStatus.EXECUTE, GateMode.AUTO, "allowed"),
        state_before={"active": False},
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "setpoint.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    opened = open_sqlite_store(path)
    yield opened
    opened.close()


def test_is_a_knowledge_store(store: SQLiteStore) -> None:
    typed: KnowledgeStore = store
    assert typed.samples.query() == []


def test_file_is_in_wal_mode(store: SQLiteStore, path: Path) -> None:
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]


def test_migrations_are_recorded_once(path: Path) -> None:
    for _ in range(2):
        open_sqlite_store(path).close()
    expected = [(m.version, m.name) for m in load_migrations("sqlite")]
    assert raw(path, "SELECT version, name FROM schema_migrations") == expected
    assert expected[:2] == [(1, "initial"), (2, "rollups")]


def test_newer_schema_is_refused(path: Path) -> None:
    open_sqlite_store(path).close()
    raw(path, "INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    with pytest.raises(KnowledgeError, match="schema version 99 is newer") as caught:
        open_sqlite_store(path)
    assert str(path) in str(caught.value)


def test_failed_migration_leaves_nothing_behind(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        broken = Migration(
            1, "broken", "CREATE TABLE half (x TEXT);\nINSERT INTO nowhere VALUES (1);"
        )
        with pytest.raises(KnowledgeError, match="0001_broken"):
            apply_sqlite_migrations(conn, [broken], now=0.0)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "half" not in tables
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)
        good = Migration(1, "good", "CREATE TABLE whole (x TEXT);")
        assert apply_sqlite_migrations(conn, [good], now=5.0) == [1]
        assert apply_sqlite_migrations(conn, [good], now=6.0) == []
        assert conn.execute("SELECT * FROM schema_migrations").fetchall() == [(1, "good", 5.0)]
    finally:
        conn.close()


def test_split_statements_keeps_trigger_bodies() -> None:
    script = (
        "CREATE TABLE a (x TEXT); CREATE TABLE b (y TEXT);\n"
        "CREATE TRIGGER t BEFORE UPDATE ON a\nBEGIN\n  SELECT RAISE(ABORT, 'no; never');\nEND;\n"
        "-- trailing comment\n"
    )
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[2].startswith("CREATE TRIGGER") and statements[2].endswith("END;")
    with pytest.raises(KnowledgeError, match="incomplete"):
        split_statements("CREATE TABLE a (x TEXT)")


def test_dialect_files_apply_only_to_their_dialect() -> None:
    sqlite = load_migrations("sqlite")[0]
    other = load_migrations("postgresql")[0]
    assert "AUTOINCREMENT" in sqlite.sql and "CREATE TABLE decisions" in sqlite.sql
    assert "AUTOINCREMENT" not in other.sql and "CREATE TABLE decisions" in other.sql


def test_hcl_decisions_view_has_the_seed_fields(store: SQLiteStore, path: Path) -> None:
    store.decisions.record(make_decision("d1", 100.0))
    store.decisions.record_outcome(Outcome("d1", 110.0, OutcomeStatus.SUCCESS, {"up": 1}, 1.0))
    assert store.decisions.add_feedback("d1", {"ok": True})
    conn = sqlite3.connect(path)
    try:
        cursor = conn.execute("SELECT * FROM hcl_decisions")
        names = [column[0] for column in cursor.description]
        row = cursor.fetchone()
    finally:
        conn.close()
    assert names == [
        "id",
        "timestamp",
        "trigger",
        "operational_mode",
        "actions_taken",
        "state_before",
        "state_after",
        "outcome",
        "reward_signal",
        "human_feedback",
    ]
    assert row == (
        "d1",
        100.0,
        "service.down",
        "BALANCED",
        '[{"action":"service.restart","target":"web.service","params":{"timeout":5},'
        '"verdict":"execute"}]',
        '{"active":false}',
        '{"up":1}',
        "SUCCESS",
        1.0,
        '{"ok":true}',
    )


def test_audit_update_is_refused_by_the_file_itself(store: SQLiteStore, path: Path) -> None:
    store.audit.append(AuditEntry(1.0, "gate", "verdict", "web.service"))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw(path, "UPDATE audit SET event = 'edited'")
    assert raw(path, "SELECT event FROM audit") == [("verdict",)]


def test_feedback_time_comes_from_the_clock(path: Path) -> None:
    with SQLiteStore(path, ManualClock(1234.0)) as store:
        store.open()
        store.decisions.record(make_decision("d1", 100.0))
        store.decisions.add_feedback("d1", {"ok": True})
    assert raw(path, "SELECT ts FROM feedback") == [(1234.0,)]


def test_json_columns_take_numpy_and_non_finite_numbers(store: SQLiteStore) -> None:
    evidence = {"score": np.float32(2.5), "n": np.int64(3), "bound": float("inf"), "k": (1, 2)}
    store.symptoms.record(Symptom("anomaly", "host", 1.0, evidence=evidence, id="s1"))
    stored = store.symptoms.get("s1")
    assert stored is not None
    assert stored.evidence == {"score": 2.5, "n": 3, "bound": None, "k": [1, 2]}


def test_unstorable_value_is_a_knowledge_error(store: SQLiteStore) -> None:
    with pytest.raises(KnowledgeError, match="JSON"):
        store.symptoms.record(Symptom("anomaly", "host", 1.0, evidence={"x": object()}))


def test_unreadable_row_is_a_knowledge_error(store: SQLiteStore, path: Path) -> None:
    store.symptoms.record(Symptom("anomaly", "host", 1.0, id="s1"))
    raw(path, "UPDATE symptoms SET evidence = 'not json'")
    with pytest.raises(KnowledgeError, match="unreadable"):
        store.symptoms.get("s1")


def test_close_closes_the_connections_of_every_thread(path: Path) -> None:
    store = open_sqlite_store(path)
    threads = [threading.Thread(target=store.samples.query) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10.0)
    store.samples.append([Sample("load", 1.0, 1.0)])
    assert path.with_name(path.name + "-wal").exists()
    store.close()
    # SQLite removes the WAL file when the last connection to the database closes.
    assert not path.with_name(path.name + "-wal").exists()
    with pytest.raises(KnowledgeError, match="not open"):
        store.samples.query()


def test_missing_directory_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "setpoint.db"
    with pytest.raises(KnowledgeError) as caught:
        open_sqlite_store(missing)
    assert str(missing) in str(caught.value)


def test_garbage_file_is_refused_and_left_untouched(path: Path) -> None:
    garbage = b"this is not an SQLite database\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(KnowledgeError, match="not a usable SQLite database") as caught:
        open_sqlite_store(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_damaged_page_is_refused_and_left_untouched(path: Path) -> None:
    with open_sqlite_store(path) as store:
        store.samples.append([Sample("load", float(i), float(i)) for i in range(5000)])
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    middle = len(data) // page_size // 2 * page_size
    data[middle : middle + page_size] = b"\x5a" * page_size
    path.write_bytes(bytes(data))
    with pytest.raises(KnowledgeError, match="left as it is") as caught:
        open_sqlite_store(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == bytes(data)


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from setpoint.knowledge.sqlite import open_sqlite_store
    from setpoint.model import Decision, GateMode, Sample, Verdict, VerdictStatus

    store = open_sqlite_store(Path(sys.argv[1]))
    for i in range(int(sys.argv[2])):
        store.decisions.record(Decision(
            id=f"d{i}", ts=float(i), trigger="t", entity="host", incident_id=None,
            playbook="p", action="a", target="x", params={"i": i},
            verdict=Verdict(VerdictStatus.EXECUTE, GateMode.AUTO, "ok"),
        ))
        print(f"decision d{i}", flush=True)
    deadline = time.monotonic() + 60.0
    batch = 0
    while time.monotonic() < deadline:
        store.samples.append([Sample("load", float(j), float(batch)) for j in range(60)])
        batch += 1
        if batch % 20 == 0:
            print(f"samples {batch}", flush=True)
    """
)


def test_committed_decisions_survive_sigkill_mid_writes(path: Path) -> None:
    count = 25
    lines: queue.Queue[str | None] = queue.Queue()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-c", CHILD, str(path), str(count)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        stdout = child.stdout

        def pump() -> None:
            for line in stdout:
                lines.put(line.strip())
            lines.put(None)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        decisions: list[str] = []
        sample_batches = 0
        deadline = time.monotonic() + 60.0
        try:
            while len(decisions) < count or sample_batches < 2:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
                assert line is not None, f"writer died early: {child.stderr.read()}"
                if line.startswith("decision"):
                    decisions.append(line.split()[1])
                elif line.startswith("samples"):
                    sample_batches += 1
                    # Another process reads while this one writes, as the CLI does.
                    with open_sqlite_store(path) as concurrent:
                        assert len(concurrent.decisions.list(DecisionFilter(limit=100))) == count
            assert child.poll() is None, "the writer stopped before it was killed"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30.0)
            reader.join(timeout=30.0)
        assert child.returncode == -signal.SIGKILL
    assert decisions == [f"d{i}" for i in range(count)]

    with open_sqlite_store(path) as reopened:
        records = reopened.decisions.list(DecisionFilter(limit=count + 10))
        assert sorted(r.id for r in records) == sorted(decisions)
        assert len(reopened.samples.query(key="load", limit=10_000)) >= 2 * 20 * 60
    assert raw(path, "PRAGMA quick_check") == [("ok",)]


def test_sqlite_connections_are_a_database(tmp_path: Path) -> None:
    from setpoint.knowledge.database import Database
    from setpoint.knowledge.sqlite_connection import SQLiteConnections

    db: Database = SQLiteConnections(tmp_path / "x.db")
    assert db.dialect == "sqlite"
