"""The knowledge graph contract: problems, solutions, runbooks and how they relate.

Nodes are typed (:class:`NodeKind`) and so are edges (:class:`EdgeKind`). A ``solves``
edge from a solution to a problem counts the verified outcomes of trying it, so each
solution has a success rate. Nodes may carry an embedding of their text, made by an
:class:`~setpoint.knowledge.embedders.base.Embedder`; :meth:`GraphRepository.similar`
answers "have we seen this before?" by cosine similarity over them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from setpoint.model import OutcomeStatus


class NodeKind(StrEnum):
    """What a node stands for."""

    PROBLEM = "problem"
    SOLUTION = "solution"
    PATTERN = "pattern"
    INSIGHT = "insight"
    TOOL = "tool"
    RUNBOOK = "runbook"


class EdgeKind(StrEnum):
    """How the source node relates to the target node (``src KIND dst``)."""

    SOLVES = "solves"
    CAUSES = "causes"
    REQUIRES = "requires"
    SIMILAR_TO = "similar_to"
    EVOLVES_INTO = "evolves_into"
    IMPLEMENTS = "implements"
    VALIDATES = "validates"
    CONFLICTS_WITH = "conflicts_with"
    DEPENDS_ON = "depends_on"
    TRIGGERS = "triggers"
    LEADS_TO = "leads_to"
    MITIGATES = "mitigates"


@dataclass(frozen=True, slots=True)
class Node:
    """One thing the graph knows: its kind, a title and the text that describes it.

    ``title`` and ``body`` together are what gets embedded; changing either drops the
    node's embedding until it is embedded again.
    """

    id: str
    kind: NodeKind
    title: str
    body: str = ""
    attrs: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def text(self) -> str:
        """The text an embedder sees: title, then body, on two lines.

        >>> Node("n1", NodeKind.PROBLEM, "disk full", "on /var").text.splitlines()
        ['disk full', 'on /var']
        """
        return f"{self.title}\n{self.body}" if self.body else self.title


@dataclass(frozen=True, slots=True)
class Edge:
    """A typed relation ``src kind dst``; outcome counts matter for ``solves`` edges."""

    src: str
    dst: str
    kind: EdgeKind
    weight: float = 1.0
    successes: int = 0
    partials: int = 0
    failures: int = 0
    attrs: Mapping[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Match:
    """A node found by similarity; ``score`` is the cosine, 1.0 for the same meaning."""

    node: Node
    score: float


@dataclass(frozen=True, slots=True)
class SolutionStats:
    """Verified outcomes of one solution; ``rate`` is successes / tried, None if never tried.

    >>> SolutionStats("s", 3, 0, 1).rate
    0.75
    """

    solution_id: str
    successes: int
    partials: int
    failures: int

    @property
    def tried(self) -> int:
        """How many outcomes were counted."""
        return self.successes + self.partials + self.failures

    @property
    def rate(self) -> float | None:
        """Share of outcomes that were full successes."""
        return self.successes / self.tried if self.tried else None


Vector = npt.NDArray[np.float32]


class GraphRepository(Protocol):
    """Nodes, edges, outcome counts and similarity search over node embeddings."""

    def upsert_node(self, node: Node) -> None:
        """Insert a node or update the one with its id (keeping ``created_at``)."""
        ...

    def get_node(self, node_id: str) -> Node | None:
        """One node by id."""
        ...

    def nodes(self, kind: NodeKind | None = None, limit: int = 100) -> list[Node]:
        """Nodes (of one kind), most recently updated first."""
        ...

    def link(self, edge: Edge) -> None:
        """Insert an edge or update weight and attrs of the one with its (src, dst, kind)."""
        ...

    def edges(
        self, node_id: str, kind: EdgeKind | None = None, incoming: bool = False
    ) -> list[Edge]:
        """Edges leaving ``node_id`` (or arriving, with ``incoming``), of one kind if given."""
        ...

    def record_outcome(
        self, solution_id: str, problem_id: str, status: OutcomeStatus, ts: float
    ) -> None:
        """Count one verified outcome on the ``solves`` edge, creating the edge if needed."""
        ...

    def success_rate(self, solution_id: str, problem_id: str | None = None) -> SolutionStats:
        """Outcome counts of a solution, over every problem or for one."""
        ...

    def unembedded(self, embedder: str, limit: int = 1000) -> list[Node]:
        """Nodes with no embedding from ``embedder`` (new, changed or embedded by another)."""
        ...

    def set_embeddings(self, embedder: str, vectors: Mapping[str, Vector]) -> None:
        """Store unit vectors from ``embedder`` by node id."""
        ...

    def similar(
        self,
        embedder: str,
        vector: Vector,
        limit: int = 5,
        kinds: Sequence[NodeKind] | None = None,
        exclude: Sequence[str] = (),
    ) -> list[Match]:
        """The nodes whose ``embedder`` embedding is nearest to ``vector``, best first."""
        ...
