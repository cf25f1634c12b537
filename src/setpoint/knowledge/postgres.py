"""The PostgreSQL knowledge store: the shared repositories over one schema of a server.

Open it with :func:`open_postgres_store` or ``open_store("postgresql://...")``. The
schema (``?schema=`` in the URL, ``setpoint`` by default) is created if missing and
migrated with the same numbered files as SQLite plus their ``.postgresql.sql``
variants. At open the store looks for the TimescaleDB and pgvector extensions and
records which the server offers in ``features``. With pgvector, the knowledge graph's
similarity search runs in SQL (:mod:`~setpoint.knowledge.pgvector_search`); without it,
in memory as on SQLite. TimescaleDB is not used yet: samples stay in plain tables.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from setpoint.clock import Clock, SystemClock
from setpoint.errors import KnowledgeError
from setpoint.knowledge.migrate import VERSIONS_TABLE, Migration, load_migrations
from setpoint.knowledge.postgres_connection import PostgresConnection, PostgresConnections
from setpoint.knowledge.postgres_url import PostgresTarget
from setpoint.knowledge.repositories.graph import Graph
from setpoint.knowledge.store import SQLStore
from setpoint.knowledge.vector_search import InMemorySearch, VectorSearch

logger = logging.getLogger(__name__)

KNOWN_EXTENSIONS = ("timescaledb", "vector")
"""Extensions setpoint looks for at open; found ones are listed in ``features``."""


def _applied(conn: PostgresConnection) -> set[int]:
    return {int(row["version"]) for row in conn.execute("SELECT version FROM schema_migrations")}


def apply_postgres_migrations(
    conn: PostgresConnection, schema: str, migrations: list[Migration], now: float
) -> list[int]:
    """Create ``schema`` if missing and apply each migration it lacks; return their versions.

    Each migration runs in one transaction holding an advisory lock on the schema's
    name, so two processes opening one new schema at once apply it once. A schema
    newer than ``migrations`` is refused rather than used.
    """
    raw = conn.raw
    lock = "SELECT pg_advisory_xact_lock(hashtext(%s))"
    known = max((m.version for m in migrations), default=0)
    done: list[int] = []
    with raw.transaction():
        raw.execute(lock, (f"setpoint:{schema}",))
        raw.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(VERSIONS_TABLE)
        applied = _applied(conn)
    if applied and max(applied) > known:
        raise KnowledgeError(
            f"schema version {max(applied)} is newer than this setpoint knows ({known})"
        )
    for migration in migrations:
        if migration.version in applied:
            continue
        try:
            with raw.transaction():
                raw.execute(lock, (f"setpoint:{schema}",))
                if migration.version in _applied(conn):
                    continue
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, now),
                )
                done.append(migration.version)
        except psycopg.Error as exc:
            raise KnowledgeError(f"migration {migration.label} failed: {exc}") from exc
    return done


def _features(conn: PostgresConnection) -> frozenset[str]:
    rows = conn.execute(
        "SELECT name FROM pg_available_extensions WHERE name = ANY(?)", (list(KNOWN_EXTENSIONS),)
    )
    return frozenset(str(row["name"]) for row in rows)


class PostgresStore(SQLStore):
    """Everything setpoint knows, in one schema of a PostgreSQL server.

    The constructor only parses the URL; :meth:`open` connects, creates the schema and
    migrates it. Messages and reprs show the URL with its password hidden.
    """

    def __init__(self, url: str, clock: Clock | None = None) -> None:
        self.target = PostgresTarget.parse(url)
        self._connections = PostgresConnections(self.target)
        super().__init__(self._connections, clock or SystemClock())

    @classmethod
    def from_url(cls, url: str | None, data_dir: Path, clock: Clock | None = None) -> PostgresStore:
        """Open the store ``url`` names; ``data_dir`` is not used by this backend."""
        if url is None:
            raise KnowledgeError("a PostgreSQL store needs a postgresql:// URL")
        return open_postgres_store(url, clock)

    @property
    def schema(self) -> str:
        """The schema the store's tables live in."""
        return self.target.schema

    def __repr__(self) -> str:
        return f"PostgresStore({self.target.label!r})"

    def open(self) -> None:
        """Connect, create and migrate the schema, note the extensions, choose the search."""
        conn = self._connections.start()
        try:
            applied = apply_postgres_migrations(
                conn, self.schema, load_migrations("postgresql"), self.clock.time()
            )
            self.features = _features(conn)
            search = self._choose_search(conn)
        except (psycopg.Error, KnowledgeError) as exc:
            self._connections.close()
            raise self._connections.error("cannot migrate", exc) from exc
        if applied:
            logger.info("%s: applied migrations %s", self.target.label, applied)
        missing = sorted(set(KNOWN_EXTENSIONS) - self.features)
        logger.info(
            "%s: extensions available: %s; not available: %s; similarity search: %s",
            self.target.label,
            ", ".join(sorted(self.features)) or "none",
            ", ".join(missing) or "none",
            "in memory" if search is None else "pgvector",
        )
        if search is not None:
            self.graph = Graph(self._connections, self.clock, search)

    def _choose_search(self, conn: PostgresConnection) -> VectorSearch | None:
        """The pgvector search when the server has (or may install) it; None: in memory."""
        if "vector" not in self.features:
            return None
        try:
            from setpoint.knowledge.pgvector_search import PgvectorSearch, enable_pgvector
        except ImportError as exc:
            logger.warning(
                "%s: the server has pgvector but %s; install the pg extra"
                " (pip install 'setpoint[pg]') to search there",
                self.target.label,
                exc,
            )
            return None
        schema = enable_pgvector(conn)
        if schema is None:
            return None
        return PgvectorSearch(self._connections, schema, InMemorySearch(self._connections))


def open_postgres_store(url: str, clock: Clock | None = None) -> PostgresStore:
    """Open the PostgreSQL store at ``url``: connected, its schema created and migrated.

    An unreachable server, a refused login or a failed migration raises
    KnowledgeError naming the server (password hidden), the schema and the step.
    """
    store = PostgresStore(url, clock)
    store.open()
    return store
