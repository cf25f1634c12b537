"""The checkpointer copies the WAL back into the database file beside the writers."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from setpoint.errors import KnowledgeError
from setpoint.knowledge.sqlite import open_sqlite_store
from setpoint.knowledge.sqlite_connection import WAL_AUTOCHECKPOINT_PAGES, Checkpointer


def test_checkpoints_run_on_their_own_thread_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x TEXT)")
    writer.executemany("INSERT INTO t VALUES (?)", [("row",)] * 500)
    results: list[tuple[int, int, int]] = []

    class Recording(sqlite3.Connection):
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            cursor = super().execute(sql, parameters)
            if "wal_checkpoint" in sql:
                results.append(cursor.fetchone())
            return cursor

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(path, factory=Recording, check_same_thread=False)

    checkpointer = Checkpointer(path, connect, interval=0.01)
    checkpointer.start()
    deadline = time.monotonic() + 10.0
    while not results and time.monotonic() < deadline:
        time.sleep(0.01)
    checkpointer.stop()
    writer.close()
    busy, frames, copied = results[0]
    assert busy == 0 and frames > 0 and copied == frames


def test_a_checkpointer_that_cannot_connect_logs_and_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse() -> sqlite3.Connection:
        raise KnowledgeError("no such file")

    checkpointer = Checkpointer(tmp_path / "k.db", refuse, interval=0.01)
    checkpointer.start()
    checkpointer.stop()
    assert "no checkpoints off the write path: no such file" in caplog.text


def test_store_connections_leave_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    with open_sqlite_store(tmp_path / "k.db") as store:
        with store.db.read("autocheckpoint") as conn:
            pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert pages == WAL_AUTOCHECKPOINT_PAGES
