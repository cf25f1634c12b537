"""Unit vectors of one vector space in one in-memory matrix, searched by cosine.

The matrix grows by doubling and a node embedded again replaces its row, so keeping the
index current costs one row per change. A query is one matrix-vector product and a
partial sort: about 10 ms for 100,000 rows of 256 floats on one core.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

import numpy as np
import numpy.typing as npt

_INITIAL_ROWS = 256


class VectorIndex:
    """Rows by node id, each tagged with its node kind.

    >>> index = VectorIndex(2)
    >>> index.upsert("a", "problem", np.array([1.0, 0.0], dtype=np.float32))
    >>> index.upsert("b", "runbook", np.array([0.6, 0.8], dtype=np.float32))
    >>> index.search(np.array([1.0, 0.0], dtype=np.float32), 5)
    [('a', 1.0), ('b', 0.6000000238418579)]
    >>> index.search(np.array([1.0, 0.0], dtype=np.float32), 5, kinds={"runbook"})
    [('b', 0.6000000238418579)]
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._lock = threading.Lock()
        self._matrix = np.zeros((_INITIAL_ROWS, dim), dtype=np.float32)
        self._kinds = np.zeros(_INITIAL_ROWS, dtype=np.int16)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._kind_codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def upsert(self, node_id: str, kind: str, vector: npt.NDArray[np.float32]) -> None:
        """Set the row of ``node_id`` (a unit vector of length ``dim``)."""
        if vector.shape != (self.dim,):
            raise ValueError(f"vector of shape {vector.shape}, expected ({self.dim},)")
        with self._lock:
            code = self._kind_codes.setdefault(kind, len(self._kind_codes))
            row = self._row.get(node_id)
            if row is None:
                row = len(self._ids)
                if row == len(self._matrix):
                    self._grow()
                self._ids.append(node_id)
                self._row[node_id] = row
            self._matrix[row] = vector
            self._kinds[row] = code

    def _grow(self) -> None:
        size = len(self._matrix) * 2
        matrix = np.zeros((size, self.dim), dtype=np.float32)
        matrix[: len(self._ids)] = self._matrix[: len(self._ids)]
        kinds = np.zeros(size, dtype=np.int16)
        kinds[: len(self._ids)] = self._kinds[: len(self._ids)]
        self._matrix, self._kinds = matrix, kinds

    def search(
        self,
        query: npt.NDArray[np.float32],
        limit: int,
        kinds: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """The ``limit`` ids nearest to ``query`` with their cosine, best first."""
        with self._lock:
            count = len(self._ids)
            if count == 0 or limit <= 0:
                return []
            scores = self._matrix[:count] @ query.astype(np.float32, copy=False)
            if kinds is not None:
                codes = [self._kind_codes[k] for k in kinds if k in self._kind_codes]
                scores[~np.isin(self._kinds[:count], codes)] = -np.inf
            for node_id in exclude:
                row = self._row.get(node_id)
                if row is not None:
                    scores[row] = -np.inf
            take = min(limit, count)
            top = np.argpartition(-scores, take - 1)[:take]
            top = top[np.argsort(-scores[top], kind="stable")]
            return [(self._ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]
