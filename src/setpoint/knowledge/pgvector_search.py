"""Similarity search in SQL with pgvector, for a PostgreSQL store whose server has it.

:func:`enable_pgvector` runs when the store opens. It creates the ``vector`` extension
where it is available but not installed and the login may (otherwise pgvector is used
only once installed), then gives ``graph_nodes`` what the search needs. This is done at
open, not in a numbered migration, because it depends on the server: migrations run the
same everywhere, and a server may gain the extension later.

- ``embedding_vec``, a ``vector`` column of no fixed length, because one store can hold
  the vectors of embedders of different lengths. The text column ``embedding`` stays
  the record (backups and the in-memory search read it) and ``embedding_vec`` is
  derived from it: a trigger clears it whenever ``embedding`` changes, and each search
  first fills it for the rows of its embedder that lack it (new, changed or restored),
  as the in-memory index loads the rows embedded since its last search.
- An HNSW index with cosine distance per embedder and vector length, partial to them,
  on ``embedding_vec::vector(n)``. It is built on the first search of that pair (one
  bulk build, far faster than row by row) and kept current by PostgreSQL afterwards, so
  a new embedder, or a new length, gets an index of its own. Writers of ``graph_nodes``
  wait for the build: an instant for a graph that grows by use, about a minute or two
  for 100,000 vectors of 256 dimensions already stored (an upgrade, a restore).

A search is ``ORDER BY embedding_vec::vector(n) <=> query LIMIT k``, with pgvector's
iterative index scan so that kind and exclusion filters still yield ``k`` rows. Vectors
longer than HNSW indexes (2,000 dimensions) are searched in memory instead.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import weakref
from collections.abc import Collection
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg.vector import VectorBinaryDumper
from psycopg import sql
from psycopg.rows import DictRow
from psycopg.types import TypeInfo

from setpoint.knowledge.graph import Vector
from setpoint.knowledge.postgres_connection import PostgresConnection, PostgresConnections
from setpoint.knowledge.vector_search import VectorSearch, decode_vector, wrong_length

logger = logging.getLogger(__name__)

HNSW_MAX_DIMS = 2000
"""The longest vectors an HNSW index on ``vector`` takes; longer ones are searched in memory."""

EF_SEARCH = 100
"""Candidates an HNSW scan keeps (``hnsw.ef_search``): more finds more true neighbours, slower."""

FILL_BATCH = 1000
"""Rows converted to ``embedding_vec`` per transaction."""

BUILD_BYTES_PER_ROW = 512
BUILD_MEMORY_CAP = 1 << 30
"""An index is built with ``maintenance_work_mem`` raised (for that transaction, never
lowered) to hold its graph: 4 bytes a dimension and about 512 more a row, at most 1 GiB.
A graph that outgrows it is built on disk, many times slower."""

TRIGGER = "graph_nodes_vector_stale"

_READY = f"""
SELECT EXISTS (
    SELECT 1 FROM pg_attribute WHERE attrelid = 'graph_nodes'::regclass
    AND attname = 'embedding_vec' AND NOT attisdropped
) AND EXISTS (
    SELECT 1 FROM pg_trigger WHERE tgrelid = 'graph_nodes'::regclass AND tgname = '{TRIGGER}'
) AS ready
"""

_SETUP = """
ALTER TABLE graph_nodes ADD COLUMN IF NOT EXISTS embedding_vec {ext}.vector;
CREATE OR REPLACE FUNCTION graph_nodes_clear_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.embedding_vec := NULL;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS {trigger} ON graph_nodes;
CREATE TRIGGER {trigger} BEFORE UPDATE OF embedding ON graph_nodes FOR EACH ROW
    WHEN (NEW.embedding IS DISTINCT FROM OLD.embedding)
    EXECUTE FUNCTION graph_nodes_clear_vector();
CREATE INDEX IF NOT EXISTS graph_nodes_unvectored ON graph_nodes (embedder)
    WHERE embedding IS NOT NULL AND embedding_vec IS NULL;
"""

_UNFILLED = """
SELECT id, embedding, embedded_seq FROM graph_nodes
WHERE embedder = %s AND embedding IS NOT NULL AND embedding_vec IS NULL LIMIT %s
"""

_FILL = """
UPDATE graph_nodes SET embedding_vec = %b
WHERE id = %s AND embedder = %s AND embedded_seq IS NOT DISTINCT FROM %s
"""


def _extension_schema(raw: psycopg.Connection[DictRow]) -> str | None:
    row = raw.execute(
        "SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n"
        " ON n.oid = e.extnamespace WHERE e.extname = 'vector'"
    ).fetchone()
    return None if row is None else str(row["nspname"])


def enable_pgvector(conn: PostgresConnection) -> str | None:
    """Prepare the store's graph for pgvector; the extension's schema, or None without it.

    Run once the schema is migrated, on the connection whose ``search_path`` is the
    store's schema. Creating the extension takes a superuser, usually; a refusal is
    logged and the in-memory search stays.
    """
    raw = conn.raw
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(hashtext('setpoint:pgvector'))")
        schema = _extension_schema(raw)
        if schema is None:
            try:
                with raw.transaction():
                    raw.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")
            except psycopg.Error as exc:
                logger.warning("pgvector is available but cannot be installed: %s", exc)
                return None
            schema = _extension_schema(raw)
        ready = raw.execute(_READY).fetchone()
        if schema is not None and not (ready and ready["ready"]):
            raw.execute(
                sql.SQL(_SETUP).format(ext=sql.Identifier(schema), trigger=sql.Identifier(TRIGGER))
            )
    return schema


def index_name(embedder: str, dim: int) -> str:
    """The name of the HNSW index of one embedder's vectors of one length.

    >>> index_name("wordllama-l2_supercat-256", 256)
    'graph_nodes_hnsw_c674b9496d_256'
    """
    digest = hashlib.sha1(embedder.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"graph_nodes_hnsw_{digest}_{dim}"


class PgvectorSearch:
    """Nearest embeddings by an HNSW index scan in PostgreSQL (see the module docstring).

    ``fallback`` serves vectors longer than HNSW takes.
    """

    def __init__(
        self,
        connections: PostgresConnections,
        extension_schema: str,
        fallback: VectorSearch,
        ef_search: int = EF_SEARCH,
    ) -> None:
        self._connections = connections
        self._schema = extension_schema
        self._ext = sql.Identifier(extension_schema)
        self._fallback = fallback
        self._ef_search = ef_search
        self._lock = threading.Lock()
        self._dumper: type[VectorBinaryDumper] | None = None
        self._indexed: set[tuple[str, int]] = set()
        self._adapted: weakref.WeakSet[psycopg.Connection[DictRow]] = weakref.WeakSet()

    def nearest(
        self,
        embedder: str,
        vector: Vector,
        limit: int,
        kinds: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """Search in SQL, first filling the embedder's new rows and building its index.

        The search and the check for new rows go to the server together; only when
        there were new rows is the search run again, once they are filled.
        """
        dim = int(vector.shape[-1])
        if vector.ndim != 1 or dim > HNSW_MAX_DIMS:
            return self._fallback.nearest(embedder, vector, limit, kinds, exclude)
        with self._connections.read("prepare the connection for pgvector") as conn:
            self._adapt(conn.raw)
        if (embedder, dim) not in self._indexed:
            self._fill(embedder)
            if not self._ensure_index(embedder, dim):
                stored = self._stored_length(embedder)
                if stored is not None:
                    raise wrong_length(embedder, dim, stored)
                return []
        if limit <= 0:
            return []
        found, pending = self._search(embedder, vector, limit, kinds, exclude)
        if pending:
            self._fill(embedder)
            found, _ = self._search(embedder, vector, limit, kinds, exclude)
        return found

    def _adapt(self, raw: psycopg.Connection[DictRow]) -> None:
        """Set up a connection once, outside any transaction.

        Numpy arrays go as binary ``vector`` values, and HNSW scans keep ``ef_search``
        candidates and go on until the filters are met.
        """
        with self._lock:
            if raw in self._adapted:
                return
            if self._dumper is None:
                info = TypeInfo.fetch(raw, sql.Identifier(self._schema, "vector"))
                if info is None:
                    raise psycopg.ProgrammingError(f"no type {self._schema}.vector")
                self._dumper = type("VectorDumper", (VectorBinaryDumper,), {"oid": info.oid})
            raw.adapters.register_dumper(np.ndarray, self._dumper)
            raw.execute(
                "SELECT set_config('hnsw.ef_search', %s, false),"
                " set_config('hnsw.iterative_scan', 'strict_order', false)",
                (str(self._ef_search),),
            )
            self._adapted.add(raw)

    def _fill(self, embedder: str) -> None:
        """Set ``embedding_vec`` of every row of ``embedder`` that has none yet."""
        while True:
            with self._connections.read("embeddings to index") as conn:
                rows = conn.raw.execute(_UNFILLED, (embedder, FILL_BATCH)).fetchall()
            if not rows:
                return
            values = [
                (decode_vector(r["embedding"]), r["id"], embedder, r["embedded_seq"]) for r in rows
            ]
            with self._connections.write("index new embeddings") as conn:
                cursor = conn.raw.cursor()
                cursor.executemany(_FILL, values)
                filled = cursor.rowcount
            if len(rows) < FILL_BATCH or filled == 0:
                return

    def _ensure_index(self, embedder: str, dim: int) -> bool:
        """Build the index of ``embedder``'s vectors of length ``dim`` if missing.

        False when there are no such vectors (then no index is made).
        """
        if (embedder, dim) in self._indexed:
            return True
        name = index_name(embedder, dim)
        with self._connections.write("index embeddings by similarity") as conn:
            raw = conn.raw
            if not _exists(raw, name):
                counted = raw.execute(
                    sql.SQL("SELECT count(*) AS n FROM graph_nodes WHERE {only}").format(
                        only=only(self._schema, embedder, dim)
                    )
                ).fetchone()
                rows = int(counted["n"]) if counted else 0
                if rows == 0:
                    return False
                raw.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(current_schema() || %s))", (name,)
                )
                memory = min(BUILD_MEMORY_CAP, rows * (4 * dim + BUILD_BYTES_PER_ROW))
                raw.execute(
                    "SELECT set_config('maintenance_work_mem', %s, true)"
                    " WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < %s",
                    (f"{memory // 1024}kB", memory),
                )
                raw.execute(
                    sql.SQL(
                        "CREATE INDEX IF NOT EXISTS {name} ON graph_nodes USING hnsw"
                        " ((embedding_vec::{ext}.vector({dim})) {ext}.vector_cosine_ops)"
                        " WHERE {only}"
                    ).format(
                        name=sql.Identifier(name),
                        ext=self._ext,
                        dim=sql.Literal(dim),
                        only=only(self._schema, embedder, dim),
                    )
                )
        self._indexed.add((embedder, dim))
        return True

    def _stored_length(self, embedder: str) -> int | None:
        with self._connections.read("length of stored embeddings") as conn:
            row = conn.raw.execute(
                sql.SQL(
                    "SELECT {ext}.vector_dims(embedding_vec) AS dim FROM graph_nodes"
                    " WHERE embedder = %s AND embedding_vec IS NOT NULL LIMIT 1"
                ).format(ext=self._ext),
                (embedder,),
            ).fetchone()
        return None if row is None else int(row["dim"])

    def _search(
        self,
        embedder: str,
        vector: Vector,
        limit: int,
        kinds: Collection[str] | None,
        exclude: Collection[str],
    ) -> tuple[list[tuple[str, float]], bool]:
        """The nearest ids with their cosines, and whether rows wait to be filled."""
        query, params = nearest_query(self._schema, embedder, vector, limit, kinds, exclude)
        with self._connections.read("similar graph nodes") as conn:
            raw = conn.raw
            with raw.pipeline():
                waiting = raw.execute(_UNFILLED, (embedder, 1))
                found = raw.execute(query, params)
            pending = waiting.fetchone() is not None
            rows = found.fetchall()
        return [(str(row["id"]), _cosine(row["distance"])) for row in rows], pending


def _cosine(distance: float) -> float:
    """The cosine of a cosine distance; 0 for a zero vector (whose distance is NaN).

    >>> _cosine(0.25), _cosine(float("nan"))
    (0.75, 0.0)
    """
    return 0.0 if math.isnan(distance) else 1.0 - float(distance)


def only(extension_schema: str, embedder: str, dim: int) -> sql.Composed:
    """An index's predicate: one embedder's vectors of one length.

    A query repeats it, constants and all, for the planner to use the index.
    """
    return sql.SQL("embedder = {embedder} AND {ext}.vector_dims(embedding_vec) = {dim}").format(
        embedder=sql.Literal(embedder), ext=sql.Identifier(extension_schema), dim=sql.Literal(dim)
    )


def nearest_query(
    extension_schema: str,
    embedder: str,
    vector: Vector,
    limit: int,
    kinds: Collection[str] | None = None,
    exclude: Collection[str] = (),
) -> tuple[sql.Composed, list[Any]]:
    """The statement and parameters of a search: ids and cosine distances, nearest first.

    The vector goes as a numpy array (binary ``vector``, see ``PgvectorSearch``).
    """
    dim = len(vector)
    where: list[sql.Composable] = [only(extension_schema, embedder, dim)]
    params: list[Any] = [np.asarray(vector, dtype=np.float32)]
    if kinds is not None:
        where.append(sql.SQL("kind = ANY(%s)"))
        params.append(list(kinds))
    if exclude:
        where.append(sql.SQL("id <> ALL(%s)"))
        params.append(list(exclude))
    params.append(limit)
    query = sql.SQL(
        "SELECT id, embedding_vec::{ext}.vector({dim}) OPERATOR({ext}.<=>) %b AS distance"
        " FROM graph_nodes WHERE {where} ORDER BY distance LIMIT %s"
    ).format(
        ext=sql.Identifier(extension_schema),
        dim=sql.Literal(dim),
        where=sql.SQL(" AND ").join(where),
    )
    return query, params


def _exists(raw: psycopg.Connection[DictRow], relation: str) -> bool:
    row = raw.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (relation,)).fetchone()
    return bool(row and row["found"])
