"""The knowledge graph: nodes, typed edges, outcome counts and similarity search.

Written once against :class:`~setpoint.knowledge.database.Database`, so SQLite and
PostgreSQL run the same statements. Embeddings are stored as base64 float32 text; a
:class:`~setpoint.knowledge.vector_search.VectorSearch` finds the nearest ones (in
memory by default, in SQL where the store chose pgvector).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from setpoint.clock import Clock
from setpoint.knowledge.database import Database, where_clause
from setpoint.knowledge.graph import (
    Edge,
    EdgeKind,
    Match,
    Node,
    NodeKind,
    SolutionStats,
    Vector,
)
from setpoint.knowledge.json_columns import object_from_json, to_json
from setpoint.knowledge.vector_search import InMemorySearch, VectorSearch, encode_vector
from setpoint.model import OutcomeStatus

_SAME_TEXT = "graph_nodes.title = excluded.title AND graph_nodes.body = excluded.body"

_UPSERT_NODE = f"""
INSERT INTO graph_nodes (id, kind, title, body, attrs, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
    body = excluded.body, attrs = excluded.attrs, updated_at = excluded.updated_at,
    embedder = CASE WHEN {_SAME_TEXT} THEN graph_nodes.embedder END,
    embedding = CASE WHEN {_SAME_TEXT} THEN graph_nodes.embedding END,
    embedded_seq = CASE WHEN {_SAME_TEXT} THEN graph_nodes.embedded_seq END
"""

_COUNT_OUTCOME = """
INSERT INTO graph_edges
    (src, dst, kind, weight, successes, partials, failures, attrs, created_at, updated_at)
VALUES (?, ?, ?, 1, ?, ?, ?, '{}', ?, ?)
ON CONFLICT (src, dst, kind) DO UPDATE SET
    successes = graph_edges.successes + excluded.successes,
    partials = graph_edges.partials + excluded.partials,
    failures = graph_edges.failures + excluded.failures,
    updated_at = excluded.updated_at
"""

_NODE_COLUMNS = "id, kind, title, body, attrs, created_at, updated_at"


def _node(row: Mapping[str, Any]) -> Node:
    return Node(
        id=row["id"],
        kind=NodeKind(row["kind"]),
        title=row["title"],
        body=row["body"],
        attrs=object_from_json(row["attrs"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _edge(row: Mapping[str, Any]) -> Edge:
    return Edge(
        src=row["src"],
        dst=row["dst"],
        kind=EdgeKind(row["kind"]),
        weight=row["weight"],
        successes=row["successes"],
        partials=row["partials"],
        failures=row["failures"],
        attrs=object_from_json(row["attrs"]),
        updated_at=row["updated_at"],
    )


class Graph:
    """The ``graph_nodes`` and ``graph_edges`` tables, searched by ``search``.

    ``search`` defaults to an in-memory index per embedder. Timestamps (``created_at``,
    ``updated_at``) are the store clock's, not the caller's.
    """

    def __init__(self, db: Database, clock: Clock, search: VectorSearch | None = None) -> None:
        self._db = db
        self._clock = clock
        self.search: VectorSearch = search or InMemorySearch(db)

    def upsert_node(self, node: Node) -> None:
        """Insert or update a node; a changed title or body drops its embedding."""
        now = self._clock.time()
        row = (node.id, node.kind.value, node.title, node.body, to_json(node.attrs), now, now)
        with self._db.write("save graph node") as conn:
            conn.execute(_UPSERT_NODE, row)

    def get_node(self, node_id: str) -> Node | None:
        """One node by id, or None."""
        with self._db.read("get graph node") as conn:
            row = conn.execute(
                f"SELECT {_NODE_COLUMNS} FROM graph_nodes WHERE id = ?", (node_id,)
            ).fetchone()
            return None if row is None else _node(row)

    def nodes(self, kind: NodeKind | None = None, limit: int = 100) -> list[Node]:
        """Nodes (of one kind), most recently updated first."""
        clause, params = where_clause(("kind = ?", kind.value if kind else None))
        sql = (
            f"SELECT {_NODE_COLUMNS} FROM graph_nodes {clause} ORDER BY updated_at DESC, id LIMIT ?"
        )
        with self._db.read("list graph nodes") as conn:
            return [_node(row) for row in conn.execute(sql, [*params, max(limit, 0)])]

    def link(self, edge: Edge) -> None:
        """Insert an edge, or update the weight and attrs of the one it names."""
        now = self._clock.time()
        row = (edge.src, edge.dst, edge.kind.value, edge.weight, to_json(edge.attrs), now, now)
        with self._db.write("save graph edge") as conn:
            conn.execute(
                "INSERT INTO graph_edges (src, dst, kind, weight, attrs, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (src, dst, kind) DO UPDATE SET weight = excluded.weight,"
                " attrs = excluded.attrs, updated_at = excluded.updated_at",
                row,
            )

    def edges(
        self, node_id: str, kind: EdgeKind | None = None, incoming: bool = False
    ) -> list[Edge]:
        """Edges leaving ``node_id`` (arriving, with ``incoming``), heaviest first."""
        clause, params = where_clause(
            ("dst = ?" if incoming else "src = ?", node_id),
            ("kind = ?", kind.value if kind else None),
        )
        sql = f"SELECT * FROM graph_edges {clause} ORDER BY weight DESC, src, dst, kind"
        with self._db.read("list graph edges") as conn:
            return [_edge(row) for row in conn.execute(sql, params)]

    def record_outcome(
        self, solution_id: str, problem_id: str, status: OutcomeStatus, ts: float
    ) -> None:
        """Count one outcome on the ``solves`` edge from the solution to the problem."""
        success = int(status is OutcomeStatus.SUCCESS)
        partial = int(status is OutcomeStatus.PARTIAL)
        failed = int(status is OutcomeStatus.FAILED)
        row = (solution_id, problem_id, EdgeKind.SOLVES.value, success, partial, failed, ts, ts)
        with self._db.write("count solution outcome") as conn:
            conn.execute(_COUNT_OUTCOME, row)

    def success_rate(self, solution_id: str, problem_id: str | None = None) -> SolutionStats:
        """Outcome counts of a solution, over every problem it was tried on or for one."""
        clause, params = where_clause(
            ("src = ?", solution_id), ("kind = ?", EdgeKind.SOLVES.value), ("dst = ?", problem_id)
        )
        sql = (
            "SELECT COALESCE(SUM(successes), 0) AS s, COALESCE(SUM(partials), 0) AS p,"
            f" COALESCE(SUM(failures), 0) AS f FROM graph_edges {clause}"
        )
        with self._db.read("solution success rate") as conn:
            row = conn.execute(sql, params).fetchone()
            return SolutionStats(solution_id, int(row["s"]), int(row["p"]), int(row["f"]))

    def unembedded(self, embedder: str, limit: int = 1000) -> list[Node]:
        """Nodes without an embedding from ``embedder``, oldest change first."""
        sql = (
            f"SELECT {_NODE_COLUMNS} FROM graph_nodes"
            " WHERE embedding IS NULL OR embedder <> ? ORDER BY updated_at, id LIMIT ?"
        )
        with self._db.read("nodes to embed") as conn:
            return [_node(row) for row in conn.execute(sql, (embedder, max(limit, 0)))]

    def set_embeddings(self, embedder: str, vectors: Mapping[str, Vector]) -> None:
        """Store the vectors, numbered after the newest of ``embedder`` in the store."""
        if not vectors:
            return
        with self._db.write("save embeddings") as conn:
            row = conn.execute(
                "SELECT COALESCE(MAX(embedded_seq), 0) AS seq FROM graph_nodes WHERE embedder = ?",
                (embedder,),
            ).fetchone()
            first = int(row["seq"]) + 1
            conn.executemany(
                "UPDATE graph_nodes SET embedder = ?, embedding = ?, embedded_seq = ? WHERE id = ?",
                [
                    (embedder, encode_vector(vector), first + i, node_id)
                    for i, (node_id, vector) in enumerate(vectors.items())
                ],
            )

    def similar(
        self,
        embedder: str,
        vector: Vector,
        limit: int = 5,
        kinds: Sequence[NodeKind] | None = None,
        exclude: Sequence[str] = (),
    ) -> list[Match]:
        """The nodes nearest to ``vector`` among those ``embedder`` embedded, best first."""
        wanted = None if kinds is None else {k.value for k in kinds}
        found = self.search.nearest(embedder, vector, limit, wanted, exclude)
        if not found:
            return []
        marks = ", ".join("?" for _ in found)
        with self._db.read("similar graph nodes") as conn:
            rows = conn.execute(
                f"SELECT {_NODE_COLUMNS} FROM graph_nodes WHERE id IN ({marks})",
                [node_id for node_id, _ in found],
            )
            by_id = {row["id"]: _node(row) for row in rows}
        return [Match(by_id[i], score) for i, score in found if i in by_id]
