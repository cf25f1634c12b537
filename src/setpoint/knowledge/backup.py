"""Backup and restore through a portable dump that every backend writes and reads.

A dump is gzip-compressed JSON lines: a header (format, version, schema version),
then for each table a line naming it and its columns, followed by one JSON array per
row. Tables come parents first, so a restore inserts them in file order. A restore
reads a dump or an SQLite store file (such as ``SQLiteStore.backup`` writes), so
SQLite and PostgreSQL stores restore into each other.

The decision analytics' hourly counters are derived from the outcomes, so a dump leaves
them out and a restore rebuilds them from the rows it restored, whatever the backup
held: they cannot disagree with the outcomes, even from a backup taken before they
existed.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import Any, cast

from setpoint.errors import KnowledgeError
from setpoint.knowledge.catalog import Table, schema_version, tables
from setpoint.knowledge.database import Connection
from setpoint.knowledge.repositories import decision_stats
from setpoint.knowledge.store import SQLStore

FORMAT = "setpoint-dump"
VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
GZIP_MAGIC = b"\x1f\x8b"
INSERT_BATCH = 1000

Source = tuple[int, Iterator[tuple[str, tuple[str, ...], Iterator[list[Any]]]]]
"""A backup being read: its schema version, and each table's name, columns and rows."""


def _encode(value: object) -> object:
    if isinstance(value, bytes | memoryview):
        return {"$base64": base64.b64encode(bytes(value)).decode()}
    return value


def _decode(value: object) -> object:
    if isinstance(value, dict) and "$base64" in value:
        return base64.b64decode(value["$base64"])
    return value


def _snapshot(store: SQLStore) -> AbstractContextManager[Connection]:
    """One consistent view of every table while the agent may go on writing."""
    if store.db.dialect != "postgresql":
        return _sqlite_read_transaction(store)
    return store.db.write("dump the store")


@contextmanager
def _sqlite_read_transaction(store: SQLStore) -> Iterator[Connection]:
    """A read transaction: in WAL mode, a snapshot that writers never wait for.

    Without it every SELECT would see its own moment, and a dump taken while the agent
    writes could hold an outcome whose decision it lacks.
    """
    with store.db.read("dump the store") as conn:
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")


def dump(store: SQLStore, target: Path) -> dict[str, int]:
    """Write every table of ``store`` to a new dump file ``target``; return rows per table.

    The derived analytics counters are left out (a restore rebuilds them). The file
    appears only when complete (written beside it, then renamed).
    """
    partial = target.with_name(target.name + ".partial")
    counts: dict[str, int] = {}
    try:
        with _snapshot(store) as conn, gzip.open(partial, "wt", encoding="utf-8") as out:
            if store.db.dialect == "postgresql":
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            header = {"format": FORMAT, "version": VERSION, "schema": schema_version(conn)}
            out.write(json.dumps(header) + "\n")
            for table in tables(conn, store.db.dialect):
                if table.name in decision_stats.TABLES:
                    continue
                out.write(json.dumps({"table": table.name, "columns": table.columns}) + "\n")
                sql = f"SELECT {', '.join(table.columns)} FROM {table.name}"
                counts[table.name] = 0
                for row in conn.execute(f"{sql} ORDER BY {', '.join(table.order)}"):
                    out.write(json.dumps([_encode(row[c]) for c in table.columns]) + "\n")
                    counts[table.name] += 1
        os.replace(partial, target)
    except OSError as exc:
        raise KnowledgeError(f"{target}: cannot write the dump: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return counts


def _dump_tables(
    lines: Iterator[str],
) -> Iterator[tuple[str, tuple[str, ...], Iterator[list[Any]]]]:
    pending = next(lines, None)
    while pending is not None:
        head = json.loads(pending)
        rows: list[list[Any]] = []
        pending = next(lines, None)
        while pending is not None and pending.startswith("["):
            rows.append([_decode(v) for v in json.loads(pending)])
            pending = next(lines, None)
        yield head["table"], tuple(head["columns"]), iter(rows)


def _read_dump(path: Path) -> Iterator[Source]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        header = json.loads(next(lines))
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise KnowledgeError(f"{path}: not a {FORMAT} version {VERSION} file")
        yield int(header["schema"]), _dump_tables(line.rstrip("\n") for line in lines)


def _sqlite_tables(
    conn: sqlite3.Connection,
) -> Iterator[tuple[str, tuple[str, ...], Iterator[list[Any]]]]:
    for table in tables(cast(Connection, conn), "sqlite"):
        sql = (
            f"SELECT {', '.join(table.columns)} FROM {table.name} ORDER BY {', '.join(table.order)}"
        )
        yield table.name, table.columns, (list(row) for row in conn.execute(sql))


def _read_sqlite(path: Path) -> Iterator[Source]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        yield schema_version(cast(Connection, conn)), _sqlite_tables(conn)


def _open_source(path: Path) -> Iterator[Source]:
    try:
        with path.open("rb") as file:
            magic = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read the backup: {exc}") from exc
    if magic.startswith(SQLITE_MAGIC):
        return _read_sqlite(path)
    if magic.startswith(GZIP_MAGIC):
        return _read_dump(path)
    raise KnowledgeError(f"{path}: neither an SQLite store nor a {FORMAT} file")


def _occupied(conn: Connection, found: list[Table]) -> list[str]:
    return [t.name for t in found if conn.execute(f"SELECT 1 FROM {t.name} LIMIT 1").fetchone()]


def restore(store: SQLStore, source: Path, force: bool = False) -> dict[str, int]:
    """Replace the contents of ``store`` with the backup ``source``; return rows per table.

    A store holding anything is refused unless ``force``; then its rows are deleted
    first. The analytics counters are rebuilt from the restored outcomes, not copied.
    The whole restore is one transaction: it happens entirely or not at all.
    """
    counts: dict[str, int] = {}
    try:
        for version, backup in _open_source(source):
            with store.db.write(f"restore {source}") as conn:
                found = tables(conn, store.db.dialect)
                if version > schema_version(conn):
                    raise KnowledgeError(
                        f"{source}: backup schema version {version} is newer than the store's"
                    )
                occupied = _occupied(conn, found)
                if occupied and not force:
                    raise KnowledgeError(
                        f"the store is not empty ({', '.join(occupied)} hold rows);"
                        " restore with --force to replace its contents"
                    )
                for table in reversed(found):
                    conn.execute(f"DELETE FROM {table.name}")
                known = {t.name: t for t in found}
                for name, columns, rows in backup:
                    if name not in decision_stats.TABLES:
                        counts[name] = _insert(conn, known, source, name, columns, rows)
                decision_stats.rebuild(conn)
    except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
        raise KnowledgeError(f"{source}: unreadable backup: {exc}") from exc
    return counts


def _insert(
    conn: Connection,
    known: dict[str, Table],
    source: Path,
    name: str,
    columns: tuple[str, ...],
    rows: Iterator[list[Any]],
) -> int:
    if name not in known:
        raise KnowledgeError(f"{source}: table {name} is not in this store")
    kept = [i for i, column in enumerate(columns) if column in known[name].columns]
    sql = (
        f"INSERT INTO {name} ({', '.join(columns[i] for i in kept)})"
        f" VALUES ({', '.join('?' for _ in kept)})"
    )
    count = 0
    batch: list[list[Any]] = []
    for row in rows:
        batch.append([row[i] for i in kept])
        if len(batch) == INSERT_BATCH:
            count += conn.executemany(sql, batch).rowcount
            batch = []
    if batch:
        count += conn.executemany(sql, batch).rowcount
    return count
