"""The Embedder contract and the registry that finds embedders by name.

An embedder maps texts to L2-normalised float32 rows, so the cosine similarity of two
texts is the dot product of their rows: 1 means the same meaning, about 0 unrelated.
Vectors are comparable only between equal ``name`` values; the store keeps that name
beside every vector it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from setpoint.plugins import Registry

Vectors = npt.NDArray[np.float32]
"""A matrix of unit rows, one per text."""

GROUP = "setpoint.embedders"
"""Entry-point group of the embedder plugins."""


class Embedder(Protocol):
    """Text to unit vectors.

    ``name`` identifies the vector space (model and dimension): vectors with equal names
    can be compared. ``embed`` may load its model on first use; it must never download.
    """

    @property
    def name(self) -> str:
        """The vector space these embeddings live in, such as ``wordllama-l2_supercat-256``."""
        ...

    @property
    def dim(self) -> int:
        """Length of each vector."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text (a zero text gives a zero row)."""
        ...


def normalize_rows(matrix: npt.ArrayLike) -> Vectors:
    """Scale each row to length 1 as float32; all-zero rows stay zero.

    >>> normalize_rows([[3.0, 4.0], [0.0, 0.0]]).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: Vectors = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return unit


def embedder_registry() -> Registry[Any]:
    """A registry of the embedder plugins installed (entry points of ``setpoint.embedders``)."""
    return Registry("embedder", GROUP)


def create_embedder(name: str, params: dict[str, Any] | None = None) -> Embedder:
    """The embedder plugin ``name`` built with its validated ``params``; it loads nothing yet."""
    embedder: Embedder = embedder_registry().create(name, params)
    return embedder
