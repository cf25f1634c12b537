"""Have we seen this before? Embed the graph lazily, search it, learn runbooks into it.

:class:`Recall` pairs a :class:`~setpoint.knowledge.graph.GraphRepository` with an
:class:`~setpoint.knowledge.embedders.base.Embedder`. Before each search it embeds the
nodes that have no vector from that embedder yet (new problems the agent linked,
runbook sections just learned), and links every newly embedded runbook section to the
problems it resembles (``similar_to`` edges weighted by the cosine), whichever of the
two came first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from setpoint.knowledge.embedders.base import Embedder
from setpoint.knowledge.graph import (
    Edge,
    EdgeKind,
    GraphRepository,
    Match,
    Node,
    NodeKind,
    Vector,
)
from setpoint.knowledge.runbooks import split_sections

_BATCH = 256
_LINKS_PER_NODE = 5


def runbook_node(source: str, title: str, body: str) -> Node:
    """One section of a runbook, identified by its file name and heading path.

    >>> runbook_node("disk.md", "Disk full > Check", "run df -h").id
    'runbook:disk.md#Disk full > Check'
    """
    return Node(
        id=f"runbook:{source}#{title}",
        kind=NodeKind.RUNBOOK,
        title=title,
        body=body,
        attrs={"source": source},
    )


class Recall:
    """Similarity search over the knowledge graph with one embedder.

    ``link_threshold`` is the cosine above which a runbook section and a problem are
    linked as ``similar_to``; it depends on the embedder (WordLlama scores paraphrases
    about 0.25 to 0.45, MiniLM 0.45 to 0.65).
    """

    def __init__(
        self, graph: GraphRepository, embedder: Embedder, link_threshold: float = 0.4
    ) -> None:
        self.graph = graph
        self.embedder = embedder
        self.link_threshold = link_threshold

    def refresh(self) -> int:
        """Embed every node that lacks a vector from this embedder; return how many."""
        done = 0
        while pending := self.graph.unembedded(self.embedder.name, _BATCH):
            vectors = self.embedder.embed([node.text for node in pending])
            self.graph.set_embeddings(
                self.embedder.name, {n.id: v for n, v in zip(pending, vectors, strict=True)}
            )
            for node, vector in zip(pending, vectors, strict=True):
                self._link_runbooks(node, vector)
            done += len(pending)
        return done

    def _link_runbooks(self, node: Node, vector: Vector) -> None:
        other = {NodeKind.RUNBOOK: NodeKind.PROBLEM, NodeKind.PROBLEM: NodeKind.RUNBOOK}
        if node.kind not in other:
            return
        matches = self.graph.similar(
            self.embedder.name, vector, _LINKS_PER_NODE, [other[node.kind]]
        )
        for match in matches:
            if match.score < self.link_threshold:
                break
            runbook, problem = (
                (node, match.node) if node.kind is NodeKind.RUNBOOK else (match.node, node)
            )
            self.graph.link(
                Edge(runbook.id, problem.id, EdgeKind.SIMILAR_TO, weight=round(match.score, 4))
            )

    def similar(
        self, text: str, limit: int = 5, kinds: Sequence[NodeKind] | None = None
    ) -> list[Match]:
        """The nodes nearest in meaning to ``text``, best first (after a :meth:`refresh`)."""
        self.refresh()
        query = self.embedder.embed([text])[0]
        return self.graph.similar(self.embedder.name, query, limit, kinds)

    def learn(self, path: Path) -> list[Node]:
        """Store each section of the markdown file ``path`` as a runbook node, embedded and linked.

        Learning a file again updates its sections in place (a section's id is the file
        name and its heading path).
        """
        text = path.read_text(encoding="utf-8")
        nodes = [runbook_node(path.name, s.title, s.body) for s in split_sections(text, path.name)]
        for node in nodes:
            self.graph.upsert_node(node)
        self.refresh()
        return nodes
