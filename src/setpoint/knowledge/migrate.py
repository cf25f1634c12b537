"""Numbered SQL migrations, applied in order, each in one transaction.

The files live in ``knowledge/migrations/`` as package data. ``NNNN_name.sql`` is
portable and runs on every backend; ``NNNN_name.<dialect>.sql`` holds what one engine
spells its own way and runs right after it, in the same transaction. Every applied
version is a row of ``schema_migrations``, so migrating again does nothing.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from setpoint.errors import KnowledgeError

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)(?:\.([a-z]+))?\.sql$")

VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: its number, its name and the SQL that brings it about."""

    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        """The file stem, such as ``0001_initial``, by which messages name it."""
        return f"{self.version:04d}_{self.name}"


def load_migrations(dialect: str) -> list[Migration]:
    """Read the migrations for ``dialect`` from the package data, oldest first.

    >>> [m.label for m in load_migrations("sqlite")][:1]
    ['0001_initial']
    """
    folder = resources.files("setpoint.knowledge").joinpath("migrations")
    names: dict[int, str] = {}
    portable: dict[int, str] = {}
    specific: dict[int, str] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise KnowledgeError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        number, name, file_dialect = match.groups()
        version = int(number)
        if names.setdefault(version, name) != name:
            raise KnowledgeError(f"migration {number} has two names: {names[version]}, {name}")
        if file_dialect is None:
            portable[version] = entry.read_text(encoding="utf-8")
        elif file_dialect == dialect:
            specific[version] = entry.read_text(encoding="utf-8")
    return [
        Migration(v, names[v], portable.get(v, "") + "\n" + specific.get(v, ""))
        for v in sorted(portable.keys() | specific.keys())
    ]


def split_statements(script: str) -> list[str]:
    r"""Cut an SQLite script into statements, keeping trigger bodies whole.

    >>> split_statements("CREATE TABLE t (x TEXT); -- note\nINSERT INTO t VALUES ('a;b');")
    ['CREATE TABLE t (x TEXT);', "-- note\nINSERT INTO t VALUES ('a;b');"]
    """
    statements: list[str] = []
    current = ""
    *pieces, tail = script.split(";")
    for piece in pieces:
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    rest = current + tail
    if any(line.strip() and not line.strip().startswith("--") for line in rest.splitlines()):
        raise KnowledgeError(f"incomplete SQL statement at the end: {rest.strip()[:80]!r}")
    return statements


def _applied(conn: sqlite3.Connection) -> set[int]:
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}


def apply_sqlite_migrations(
    conn: sqlite3.Connection, migrations: Sequence[Migration], now: float
) -> list[int]:
    """Apply each migration the database lacks, one transaction each; return their versions.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each migration runs
    under ``BEGIN IMMEDIATE`` and checks again that it is still missing, so two processes
    opening one new file at once apply it once. A database newer than ``migrations`` is
    refused rather than used.
    """
    conn.execute(VERSIONS_TABLE)
    applied = _applied(conn)
    known = max((m.version for m in migrations), default=0)
    if applied and max(applied) > known:
        raise KnowledgeError(
            f"schema version {max(applied)} is newer than this setpoint knows ({known})"
        )
    done: list[int] = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if migration.version not in _applied(conn):
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, now),
                )
                done.append(migration.version)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise KnowledgeError(f"migration {migration.label} failed: {exc}") from exc
        finally:
            if conn.in_transaction:
                conn.rollback()
    return done
