"""Every KnowledgeStore backend keeps the GraphRepository contract.

The backends and the ``store`` fixture are those of test_knowledge_stores, so a backend
added there runs these checks too. Vectors here are made by hand (no model), so the
expected nearest nodes are known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.graph import Edge, EdgeKind, Node, NodeKind
from setpoint.model import OutcomeStatus
from tests.contract import test_knowledge_stores as stores
from tests.contract.test_knowledge_stores import Backend

backend = stores.backend
store = stores.store


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def node(node_id: str, kind: NodeKind = NodeKind.PROBLEM, body: str = "") -> Node:
    return Node(node_id, kind, f"title of {node_id}", body, {"n": 1})


def test_node_round_trip_and_update(store: KnowledgeStore) -> None:
    graph = store.graph
    graph.upsert_node(node("p1", body="disk full"))
    got = graph.get_node("p1")
    assert got is not None
    assert (got.kind, got.title, got.body, dict(got.attrs)) == (
        NodeKind.PROBLEM,
        "title of p1",
        "disk full",
        {"n": 1},
    )
    graph.upsert_node(Node("p1", NodeKind.PROBLEM, "new title", "disk full", {"n": 2}))
    again = graph.get_node("p1")
    assert again is not None and again.title == "new title" and again.attrs == {"n": 2}
    assert again.created_at == got.created_at
    assert graph.get_node("nope") is None


def test_nodes_by_kind(store: KnowledgeStore) -> None:
    for i in range(3):
        store.graph.upsert_node(node(f"p{i}"))
    store.graph.upsert_node(node("r1", NodeKind.RUNBOOK))
    assert {n.id for n in store.graph.nodes(NodeKind.PROBLEM)} == {"p0", "p1", "p2"}
    assert [n.id for n in store.graph.nodes(NodeKind.RUNBOOK)] == ["r1"]
    assert len(store.graph.nodes(limit=2)) == 2


def test_edges_every_kind(store: KnowledgeStore) -> None:
    graph = store.graph
    graph.upsert_node(node("a"))
    graph.upsert_node(node("b", NodeKind.SOLUTION))
    for kind in EdgeKind:
        graph.link(Edge("a", "b", kind, weight=0.5, attrs={"why": kind.value}))
    assert {e.kind for e in graph.edges("a")} == set(EdgeKind)
    assert [e.src for e in graph.edges("b", EdgeKind.CAUSES, incoming=True)] == ["a"]
    graph.link(Edge("a", "b", EdgeKind.CAUSES, weight=0.9))
    (causes,) = graph.edges("a", EdgeKind.CAUSES)
    assert causes.weight == 0.9
    assert graph.edges("b") == []


def test_edge_needs_both_nodes(store: KnowledgeStore) -> None:
    store.graph.upsert_node(node("a"))
    with pytest.raises(KnowledgeError):
        store.graph.link(Edge("a", "missing", EdgeKind.CAUSES))


def test_success_rate_from_outcomes(store: KnowledgeStore) -> None:
    graph = store.graph
    for n in (node("p1"), node("p2"), node("s1", NodeKind.SOLUTION)):
        graph.upsert_node(n)
    assert graph.success_rate("s1").rate is None
    for status in (OutcomeStatus.SUCCESS, OutcomeStatus.SUCCESS, OutcomeStatus.FAILED):
        graph.record_outcome("s1", "p1", status, 10.0)
    graph.record_outcome("s1", "p2", OutcomeStatus.PARTIAL, 11.0)
    overall = graph.success_rate("s1")
    assert (overall.successes, overall.partials, overall.failures) == (2, 1, 1)
    assert overall.rate == 0.5
    assert graph.success_rate("s1", "p1").rate == pytest.approx(2 / 3)
    assert [e.dst for e in graph.edges("s1", EdgeKind.SOLVES)] == ["p1", "p2"]


def test_similar_nearest_first_with_kinds(store: KnowledgeStore) -> None:
    graph = store.graph
    graph.upsert_node(node("p1"))
    graph.upsert_node(node("p2"))
    graph.upsert_node(node("r1", NodeKind.RUNBOOK))
    assert {n.id for n in graph.unembedded("toy")} == {"p1", "p2", "r1"}
    graph.set_embeddings("toy", {"p1": unit(1, 0, 0), "p2": unit(0, 1, 0), "r1": unit(1, 1, 0)})
    assert graph.unembedded("toy") == []
    found = graph.similar("toy", unit(1, 0.1, 0), limit=3)
    assert [m.node.id for m in found] == ["p1", "r1", "p2"]
    assert found[0].score > found[1].score > found[2].score
    only = graph.similar("toy", unit(1, 0, 0), kinds=[NodeKind.RUNBOOK])
    assert [m.node.id for m in only] == ["r1"]
    others = graph.similar("toy", unit(1, 0, 0), exclude=["p1"])
    assert [m.node.id for m in others] == ["r1", "p2"]
    assert graph.similar("other", unit(1, 0, 0)) == []


def test_index_follows_new_and_changed_embeddings(store: KnowledgeStore) -> None:
    graph = store.graph
    graph.upsert_node(node("p1"))
    graph.set_embeddings("toy", {"p1": unit(1, 0)})
    assert graph.similar("toy", unit(1, 0))[0].node.id == "p1"
    graph.upsert_node(node("p2"))
    graph.set_embeddings("toy", {"p2": unit(0.9, 0.1)})
    assert [m.node.id for m in graph.similar("toy", unit(0, 1))] == ["p2", "p1"]
    graph.upsert_node(node("p1", body="changed text"))
    assert [n.id for n in graph.unembedded("toy")] == ["p1"]
    graph.set_embeddings("toy", {"p1": unit(0, 1)})
    assert graph.similar("toy", unit(0, 1))[0].node.id == "p1"


def test_index_sees_another_connection(backend: Backend) -> None:
    reader = backend.open()
    writer = backend.open()
    try:
        writer.graph.upsert_node(node("p1"))
        writer.graph.set_embeddings("toy", {"p1": unit(1, 0)})
        assert reader.graph.similar("toy", unit(1, 0))[0].node.id == "p1"
        writer.graph.upsert_node(node("p2"))
        writer.graph.set_embeddings("toy", {"p2": unit(0, 1)})
        assert reader.graph.similar("toy", unit(0, 1))[0].node.id == "p2"
    finally:
        reader.close()
        writer.close()


def test_query_of_wrong_length_is_refused(store: KnowledgeStore) -> None:
    store.graph.upsert_node(node("p1"))
    store.graph.set_embeddings("toy", {"p1": unit(1, 0)})
    with pytest.raises(KnowledgeError):
        store.graph.similar("toy", unit(1, 0, 0))
