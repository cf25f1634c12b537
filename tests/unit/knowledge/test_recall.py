from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.knowledge.embedders.base import Embedder, create_embedder
from setpoint.knowledge.graph import EdgeKind, NodeKind
from setpoint.knowledge.graph_linker import problem_node
from setpoint.knowledge.recall import Recall
from setpoint.knowledge.sqlite import SQLiteStore, open_sqlite_store
from setpoint.model import Incident, Symptom

RUNBOOKS = Path(__file__).parents[2] / "fixtures" / "runbooks"


@pytest.fixture(scope="module")
def wordllama() -> Embedder:
    return create_embedder("wordllama")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = open_sqlite_store(tmp_path / "k.db")
    yield opened
    opened.close()


def frozen_web() -> Incident:
    return Incident("i1", "service:web", 0.0, kinds=("service.unhealthy",))


def frozen_web_symptom() -> Symptom:
    reason = "pid 18511 is stopped (state T), e.g. by SIGSTOP"
    return Symptom("service.unhealthy", "service:web", 0.0, evidence={"reason": reason})


def test_learn_then_search(store: SQLiteStore, wordllama: Embedder) -> None:
    recall = Recall(store.graph, wordllama)
    for path in sorted(RUNBOOKS.glob("*.md")):
        assert recall.learn(path)
    assert len(store.graph.nodes(NodeKind.RUNBOOK)) == 12
    assert recall.refresh() == 0
    best = recall.similar("the machine ran out of disk space", 3)
    assert best[0].node.title.startswith("Disk full")
    oom = recall.similar("the kernel killed the worker for using too much memory", 1)
    assert oom[0].node.attrs["source"] == "postmortem-memory-leak.md"


def test_learning_again_updates_in_place(store: SQLiteStore, wordllama: Embedder) -> None:
    recall = Recall(store.graph, wordllama)
    recall.learn(RUNBOOKS / "web-frozen.md")
    recall.learn(RUNBOOKS / "web-frozen.md")
    assert len(store.graph.nodes(NodeKind.RUNBOOK)) == 3


@pytest.mark.parametrize("problem_first", [True, False])
def test_runbooks_link_to_problems_whichever_came_first(
    store: SQLiteStore, wordllama: Embedder, problem_first: bool
) -> None:
    recall = Recall(store.graph, wordllama, link_threshold=0.3)
    problem = problem_node(frozen_web(), [frozen_web_symptom()])
    if problem_first:
        store.graph.upsert_node(problem)
        recall.refresh()
    recall.learn(RUNBOOKS / "web-frozen.md")
    recall.learn(RUNBOOKS / "disk-full.md")
    if not problem_first:
        store.graph.upsert_node(problem)
        recall.refresh()
    linked = {e.src for e in store.graph.edges(problem.id, EdgeKind.SIMILAR_TO, incoming=True)}
    assert "runbook:web-frozen.md#Web service not answering > Remediation" in linked
    assert not any("disk-full" in src for src in linked)


def test_chargram_needs_no_model(store: SQLiteStore) -> None:
    recall = Recall(store.graph, create_embedder("chargram"))
    recall.learn(RUNBOOKS / "disk-full.md")
    (best,) = recall.similar("journalctl vacuum", 1)
    assert best.node.title == "Disk full > Remediation > Journal"
