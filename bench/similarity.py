"""Similarity search over the knowledge graph, and the throughput of each embedder.

For each backend (SQLite in a temporary directory; PostgreSQL in a throwaway schema,
when a server answers) the graph is filled with ``--nodes`` nodes holding random unit
vectors of 256 dimensions (WordLlama's size), then timed: the first search (which loads
every vector into memory), later searches (p50/p99), and a search right after 100 new
embeddings (the incremental load). Embedding throughput is measured per embedder on
sentences made from templates. Run on demand, not as a test:

    .venv/bin/python -m bench.similarity [--nodes 100000] [--queries 200]
        [--backends sqlite,postgresql] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from setpoint.errors import PluginError
from setpoint.knowledge.embedders.base import create_embedder, normalize_rows
from setpoint.knowledge.graph import NodeKind
from setpoint.knowledge.open import open_store
from setpoint.knowledge.store import SQLStore

DIM = 256
BATCH = 5000
KINDS = [k.value for k in NodeKind]


@contextmanager
def backend_store(name: str, postgres: str, tmp: Path) -> Iterator[SQLStore]:
    schema = f"sp_bench_{uuid.uuid4().hex[:10]}"
    url = None if name == "sqlite" else f"{postgres}?schema={schema}"
    store = open_store(url, tmp)
    assert isinstance(store, SQLStore)
    try:
        yield store
    finally:
        store.close()
        if name != "sqlite":
            import psycopg

            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


def fill(store: SQLStore, count: int, rng: np.random.Generator) -> float:
    """Insert ``count`` nodes in batches and embed them; return the seconds it took."""
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        ids = [f"n{i:07d}" for i in range(first, min(first + BATCH, count))]
        with store.db.write("bench nodes") as conn:
            conn.executemany(
                "INSERT INTO graph_nodes (id, kind, title, body, attrs, created_at, updated_at)"
                " VALUES (?, ?, ?, '', '{}', 0, 0)",
                [(i, KINDS[n % len(KINDS)], f"node {i}") for n, i in enumerate(ids)],
            )
        vectors = normalize_rows(rng.standard_normal((len(ids), DIM)))
        store.graph.set_embeddings("bench", dict(zip(ids, vectors, strict=True)))
    return time.perf_counter() - started


def search_latency(store: SQLStore, count: int, queries: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    fill_s = fill(store, count, rng)
    probes = normalize_rows(rng.standard_normal((queries + 1, DIM)))
    started = time.perf_counter()
    store.graph.similar("bench", probes[0], 10)
    cold_ms = (time.perf_counter() - started) * 1000
    times: list[float] = []
    for probe in probes[1:]:
        started = time.perf_counter()
        found = store.graph.similar("bench", probe, 10)
        times.append((time.perf_counter() - started) * 1000)
        assert len(found) == 10
    with store.db.write("bench new nodes") as conn:
        conn.executemany(
            "INSERT INTO graph_nodes (id, kind, title, body, attrs, created_at, updated_at)"
            " VALUES (?, 'problem', ?, '', '{}', 0, 0)",
            [(f"new{i}", f"new {i}") for i in range(100)],
        )
    store.graph.set_embeddings(
        "bench",
        {f"new{i}": v for i, v in enumerate(normalize_rows(rng.standard_normal((100, DIM))))},
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
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--embedders", default="wordllama,chargram,minilm")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    report: dict[str, Any] = {"search": {}, "embedders": []}
    for name in args.backends.split(","):
        with (
            tempfile.TemporaryDirectory() as tmp,
            backend_store(name, args.postgres, Path(tmp)) as store,
        ):
            report["search"][name] = search_latency(store, args.nodes, args.queries)
    for name in args.embedders.split(","):
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
