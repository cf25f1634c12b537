"""How the graph finds the nodes nearest to a vector: the one place a backend's choice shows.

Embeddings are stored by every backend as text (:func:`encode_vector`) in
``graph_nodes.embedding``. :class:`VectorSearch` is what the graph asks; it has two
implementations. :class:`InMemorySearch` serves every backend: the first search of an
embedder's vectors loads them into a numpy
:class:`~setpoint.knowledge.vector_index.VectorIndex`, and each later search first loads
only the rows embedded since (by ``embedded_seq``), whichever process wrote them. The
PostgreSQL store uses :class:`~setpoint.knowledge.pgvector.PgvectorSearch` instead when
the server has the pgvector extension.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Collection
from typing import Protocol

import numpy as np

from setpoint.errors import KnowledgeError
from setpoint.knowledge.database import Database
from setpoint.knowledge.graph import Vector
from setpoint.knowledge.vector_index import VectorIndex


def encode_vector(vector: Vector) -> str:
    """The stored text of a vector: base64 of its little-endian float32 bytes.

    >>> encode_vector(np.array([1.0, 0.5], dtype=np.float32))
    'AACAPwAAAD8='
    """
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: str) -> Vector:
    """The vector :func:`encode_vector` stored.

    >>> decode_vector("AACAPwAAAD8=").tolist()
    [1.0, 0.5]
    """
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


def wrong_length(embedder: str, query: int, stored: int) -> KnowledgeError:
    """The error for a query vector whose length is not that of the embedder's vectors."""
    return KnowledgeError(f"a query of {query} dimensions against {embedder} ({stored})")


class VectorSearch(Protocol):
    """Nearest stored embeddings of one embedder, by cosine similarity."""

    def nearest(
        self,
        embedder: str,
        vector: Vector,
        limit: int,
        kinds: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """Ids and cosines of the ``limit`` nodes nearest to ``vector``, best first.

        Only nodes that ``embedder`` embedded count, of the node ``kinds`` when given and
        not in ``exclude``. A query whose length differs from the embedder's stored
        vectors raises KnowledgeError.
        """
        ...


class InMemorySearch:
    """A numpy index per embedder, loaded from the store and kept current incrementally."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._indexes: dict[str, tuple[VectorIndex, int]] = {}

    def nearest(
        self,
        embedder: str,
        vector: Vector,
        limit: int,
        kinds: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """Search the embedder's index after loading the rows embedded since the last search."""
        index = self._index(embedder)
        if index is None:
            return []
        if vector.shape != (index.dim,):
            raise wrong_length(embedder, vector.shape[-1], index.dim)
        return index.search(vector, limit, kinds, exclude)

    def _index(self, embedder: str) -> VectorIndex | None:
        """The index of ``embedder``'s vectors, first loading what was stored since last time."""
        with self._lock:
            index, seen = self._indexes.get(embedder, (None, 0))
            with self._db.read("load embeddings") as conn:
                rows = conn.execute(
                    "SELECT id, kind, embedding, embedded_seq FROM graph_nodes"
                    " WHERE embedder = ? AND embedded_seq > ? ORDER BY embedded_seq",
                    (embedder, seen),
                )
                for row in rows:
                    vector = decode_vector(row["embedding"])
                    if index is None:
                        index = VectorIndex(len(vector))
                    index.upsert(row["id"], row["kind"], vector)
                    seen = int(row["embedded_seq"])
            if index is not None:
                self._indexes[embedder] = (index, seen)
            return index
