"""The PostgreSQL store searches by pgvector where the server has it, in memory otherwise.

Runs on the session's bundled PostgreSQL with pgvector (:mod:`tests.bundled_postgres`),
each test in a schema of its own, and on the plain test server for the fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from setpoint.knowledge.backup import dump, restore
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.embedders.base import normalize_rows
from setpoint.knowledge.graph import Node, NodeKind
from setpoint.knowledge.open import open_store
from setpoint.knowledge.pgvector_search import nearest_query
from setpoint.knowledge.postgres import open_postgres_store
from setpoint.knowledge.repositories.graph import Graph
from setpoint.knowledge.store import SQLStore
from setpoint.knowledge.vector_search import InMemorySearch, VectorSearch, encode_vector
from tests.bundled_postgres import pgvector_server_or_skip
from tests.postgres import run, throwaway_schema

KINDS = [NodeKind.PROBLEM, NodeKind.SOLUTION, NodeKind.RUNBOOK]


@pytest.fixture
def server() -> str:
    return pgvector_server_or_skip()


@pytest.fixture
def pg(server: str) -> Iterator[tuple[str, str]]:
    with throwaway_schema(server) as made:
        yield made


def search_of(store: KnowledgeStore) -> VectorSearch:
    assert isinstance(store.graph, Graph)
    return store.graph.search


def units(rows: int, dim: int, seed: int) -> np.ndarray:
    return normalize_rows(np.random.default_rng(seed).standard_normal((rows, dim)))


def fill(store: KnowledgeStore, vectors: np.ndarray, embedder: str = "toy") -> None:
    graph = store.graph
    for i in range(len(vectors)):
        graph.upsert_node(Node(f"n{i:03d}", KINDS[i % len(KINDS)], f"node {i}"))
    graph.set_embeddings(embedder, {f"n{i:03d}": v for i, v in enumerate(vectors)})


def test_pgvector_is_installed_and_used(pg: tuple[str, str], server: str) -> None:
    url, schema = pg
    with open_postgres_store(url) as store:
        assert "vector" in store.features
        assert type(search_of(store)).__name__ == "PgvectorSearch"
        fill(store, units(20, 8, 1))
        found = store.graph.similar("toy", units(1, 8, 2)[0], 3)
        assert len(found) == 3
    assert run("SELECT extname FROM pg_extension WHERE extname = 'vector'", server=server)
    indexes = run(
        f"SELECT indexdef FROM pg_indexes WHERE schemaname = '{schema}'"
        " AND indexname LIKE 'graph_nodes_hnsw_%'",
        server=server,
    )
    assert len(indexes) == 1
    assert "USING hnsw" in str(indexes[0][0]) and "vector_cosine_ops" in str(indexes[0][0])


def test_the_search_uses_the_hnsw_index(pg: tuple[str, str], server: str) -> None:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg import sql

    url, schema = pg
    with open_postgres_store(url) as store:
        fill(store, units(200, 16, 3))
        store.graph.similar("toy", units(1, 16, 4)[0], 5)
    ((name,),) = run(
        f"SELECT indexname FROM pg_indexes WHERE schemaname = '{schema}'"
        " AND indexname LIKE 'graph_nodes_hnsw_%'",
        server=server,
    )
    run("ANALYZE graph_nodes", schema, server)
    options = f"-c search_path={schema},public"
    with psycopg.connect(server, autocommit=True, options=options) as conn:
        register_vector(conn)
        for kinds in (None, ["runbook"]):
            query, params = nearest_query("public", "toy", units(1, 16, 5)[0], 5, kinds, ["n001"])
            plan = conn.execute(sql.SQL("EXPLAIN ") + query, params).fetchall()
            assert f"Index Scan using {name}" in "\n".join(str(row[0]) for row in plan)


def test_same_results_as_the_in_memory_search(pg: tuple[str, str], tmp_path: Path) -> None:
    url, _ = pg
    vectors = units(300, 24, 6)
    queries = units(20, 24, 7)
    with open_store(url, tmp_path) as in_sql, open_store(None, tmp_path) as in_memory:
        assert type(search_of(in_sql)).__name__ == "PgvectorSearch"
        fill(in_sql, vectors)
        fill(in_memory, vectors)
        for query in queries:
            for kinds, exclude in [(None, ()), ([NodeKind.RUNBOOK], ()), (None, ("n000", "n001"))]:
                a = in_sql.graph.similar("toy", query, 10, kinds, exclude)
                b = in_memory.graph.similar("toy", query, 10, kinds, exclude)
                assert [m.node.id for m in a] == [m.node.id for m in b]
                assert [m.score for m in a] == pytest.approx([m.score for m in b], abs=1e-5)
                assert len(a) == 10


def test_rows_embedded_behind_its_back_are_indexed(pg: tuple[str, str], server: str) -> None:
    """As after a restore from SQLite, or a writer of an older version: text, no vector."""
    url, schema = pg
    with open_postgres_store(url) as store:
        fill(store, units(10, 4, 8))
        target = np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32)
        assert store.graph.similar("toy", target, 1)[0].node.id != "late"
        store.graph.upsert_node(Node("late", NodeKind.PROBLEM, "late"))
        run(
            f"UPDATE graph_nodes SET embedder = 'toy', embedding = '{encode_vector(target)}',"
            " embedded_seq = 1000 WHERE id = 'late'",
            schema,
            server,
        )
        (best,) = store.graph.similar("toy", target, 1)
        assert best.node.id == "late" and best.score == pytest.approx(1.0)


def test_changed_text_drops_the_stored_vector(pg: tuple[str, str], server: str) -> None:
    url, schema = pg
    with open_postgres_store(url) as store:
        fill(store, units(3, 4, 9))
        store.graph.similar("toy", units(1, 4, 10)[0], 1)
        assert run("SELECT count(embedding_vec) FROM graph_nodes", schema, server) == [(3,)]
        store.graph.upsert_node(Node("n000", KINDS[0], "another title"))
        assert run(
            "SELECT embedding_vec IS NULL FROM graph_nodes WHERE id = 'n000'", schema, server
        ) == [(True,)]
        assert "n000" not in {m.node.id for m in store.graph.similar("toy", units(1, 4, 10)[0])}


def test_each_embedder_and_length_has_its_own_index(pg: tuple[str, str], server: str) -> None:
    url, schema = pg
    with open_postgres_store(url) as store:
        fill(store, units(6, 4, 11), "old")
        assert store.graph.similar("old", units(1, 4, 12)[0], 1)
        fill(store, units(6, 6, 13), "new")
        (best,) = store.graph.similar("new", units(6, 6, 13)[2], 1)
        assert best.node.id == "n002" and best.score == pytest.approx(1.0)
        store.graph.upsert_node(Node("longer", NodeKind.PROBLEM, "longer"))
        store.graph.set_embeddings("new", {"longer": units(1, 8, 14)[0]})
        (best,) = store.graph.similar("new", units(1, 8, 14)[0], 1)
        assert best.node.id == "longer"
    names = run(
        f"SELECT indexname FROM pg_indexes WHERE schemaname = '{schema}'"
        " AND indexname LIKE 'graph_nodes_hnsw_%' ORDER BY indexname",
        server=server,
    )
    assert len(names) == 3


def test_vectors_longer_than_hnsw_takes_are_searched_in_memory(pg: tuple[str, str]) -> None:
    url, _ = pg
    with open_postgres_store(url) as store:
        vectors = units(4, 2048, 15)
        fill(store, vectors, "wide")
        (best,) = store.graph.similar("wide", vectors[3], 1)
        assert best.node.id == "n003" and best.score == pytest.approx(1.0)


def test_without_the_right_to_install_it_the_search_stays_in_memory(server: str) -> None:
    run("DROP DATABASE IF EXISTS sp_no_vector", server=server)
    run("DROP ROLE IF EXISTS sp_plain", server=server)
    run("CREATE ROLE sp_plain LOGIN", server=server)
    run("CREATE DATABASE sp_no_vector OWNER sp_plain", server=server)
    url = server.replace("postgres@", "sp_plain@").replace("/postgres", "/sp_no_vector")
    try:
        with open_postgres_store(f"{url}?schema=sp_test_plain") as store:
            assert "vector" in store.features
            assert isinstance(search_of(store), InMemorySearch)
            fill(store, units(5, 4, 16))
            assert len(store.graph.similar("toy", units(1, 4, 17)[0], 2)) == 2
    finally:
        run("DROP DATABASE IF EXISTS sp_no_vector WITH (FORCE)", server=server)
        run("DROP ROLE IF EXISTS sp_plain", server=server)


def test_a_server_without_pgvector_searches_in_memory() -> None:
    with throwaway_schema() as (url, _), open_postgres_store(url) as store:
        if "vector" in store.features:
            pytest.skip("the test server has pgvector")
        assert isinstance(search_of(store), InMemorySearch)


def test_backup_and_restore_across_backends(pg: tuple[str, str], tmp_path: Path) -> None:
    url, _ = pg
    vectors = units(30, 8, 18)
    dumped = tmp_path / "graph.dump.gz"
    with open_postgres_store(url) as origin:
        fill(origin, vectors)
        expected = [m.node.id for m in origin.graph.similar("toy", vectors[7], 5)]
        dump(origin, dumped)
    with throwaway_schema(pgvector_server_or_skip()) as (other, _):
        for target_url in (other, None):
            with open_store(target_url, tmp_path) as copy:
                assert isinstance(copy, SQLStore)
                restore(copy, dumped)
                assert [m.node.id for m in copy.graph.similar("toy", vectors[7], 5)] == expected
