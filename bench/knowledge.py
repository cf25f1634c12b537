"""Knowledge store benchmark: write latency under sustained load, analytics on 1M decisions.

For each backend (SQLite in a temporary directory; PostgreSQL in a throwaway schema,
``sp_bench_<random>``, dropped at the end) it measures:

1. write latency: for ``--seconds`` at ``--rate`` rounds per second, each round writes
   one batch of 60 samples, one decision, its outcome and one audit entry through the
   store's repositories, as the agent's writer thread does; the latency of every call
   is kept and p50/p99/max reported per kind and overall;
2. analytics: ``--decisions`` decisions (80 % with an outcome, four actions, two gate
   modes, 20 entities, one every 30 s) are bulk-loaded (and the analytics' hourly
   counters rebuilt from them, as a restore does), then each query of
   ``success_rate``, ``reward_trend`` and ``list`` with filters runs ``--repeat`` times
   and its median and max are reported.

It is a benchmark, run on demand, never a test:

    .venv/bin/python bench/knowledge.py [--seconds 30] [--rate 20] [--decisions 1000000]
        [--backends sqlite,postgresql] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from setpoint.knowledge.base import DecisionFilter
from setpoint.knowledge.open import open_store
from setpoint.knowledge.postgres import PostgresStore
from setpoint.knowledge.repositories import decision_stats
from setpoint.knowledge.store import SQLStore
from setpoint.model import (
    AuditEntry,
    Decision,
    GateMode,
    Outcome,
    OutcomeStatus,
    Sample,
    Verdict,
    VerdictStatus,
)

ACTIONS = ("service.restart", "service.signal", "process.kill", "cache.drop")
STATUSES = ("SUCCESS", "SUCCESS", "PARTIAL", "FAILED")
SPACING = 30.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def backend_store(name: str, postgres: str, tmp: Path) -> Iterator[SQLStore]:
    if name == "sqlite":
        tmp.mkdir(parents=True, exist_ok=True)
        store = open_store(None, tmp)
    else:
        schema = f"sp_bench_{uuid.uuid4().hex[:10]}"
        store = open_store(f"{postgres}?schema={schema}", tmp)
    assert isinstance(store, SQLStore)
    try:
        yield store
    finally:
        store.close()
        if isinstance(store, PostgresStore):
            import psycopg

            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {store.schema} CASCADE".encode())


def make_decision(i: int, ts: float, mode: GateMode = GateMode.AUTO) -> Decision:
    return Decision(
        id=f"w{i:08d}",
        ts=ts,
        trigger="service.unhealthy",
        entity=f"service:svc{i % 20}",
        incident_id=f"inc{i // 3}",
        playbook="heal",
        action=ACTIONS[i % len(ACTIONS)],
        target=f"svc{i % 20}",
        params={"signal": "TERM"},
        verdict=Verdict(VerdictStatus.EXECUTE, mode, "allowed"),
        state_before={"active": False},
    )


def write_load(store: SQLStore, seconds: float, rate: float) -> dict[str, dict[str, float]]:
    timings: dict[str, list[float]] = {"samples": [], "decision": [], "outcome": [], "audit": []}

    def timed(kind: str, fn: Callable[..., None], *args: Any) -> None:
        started = time.perf_counter()
        fn(*args)
        timings[kind].append((time.perf_counter() - started) * 1000)

    period = 1.0 / rate
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        now = time.time()
        batch = [Sample(f"m{j}", float(j), now, labels={"k": str(j % 4)}) for j in range(60)]
        timed("samples", store.samples.append, batch)
        made = make_decision(i, now)
        timed("decision", store.decisions.record, made)
        timed(
            "outcome",
            store.decisions.record_outcome,
            Outcome(made.id, now, OutcomeStatus.SUCCESS, {"active": True}, 1.0),
        )
        timed("audit", store.audit.append, AuditEntry(now, "gate", "verdict", "svc", {"i": i}))
        i += 1
        time.sleep(max(0.0, start + i * period - time.monotonic()))
    timings["all"] = [t for kind in list(timings) for t in timings[kind]]
    return {
        kind: {
            "n": len(values),
            "p50_ms": percentile(values, 0.50),
            "p99_ms": percentile(values, 0.99),
            "max_ms": max(values),
        }
        for kind, values in timings.items()
    }


def rows(count: int) -> Iterator[tuple[list[Any], list[Any] | None]]:
    for i in range(count):
        ts = 1_600_000_000.0 + i * SPACING
        mode = "dry-run" if i % 10 == 0 else "auto"
        decision = [f"b{i:08d}", ts, "service.unhealthy", f"service:svc{i % 20}", f"inc{i // 3}"]
        decision += ["sym", "heal", ACTIONS[i % 4], f"svc{i % 20}", '{"signal":"TERM"}', mode]
        decision += ["execute", "allowed", "BALANCED", "", '{"active":false}']
        result = None
        if i % 5:
            status = STATUSES[(i * 7) % 4]
            reward = {"SUCCESS": 1.0, "PARTIAL": 0.0, "FAILED": -1.0}[status]
            result = [f"b{i:08d}", ts + 20.0, status, '{"active":true}', reward, ""]
        yield decision, result


DECISION_COLUMNS = (
    'id, ts, "trigger", entity, incident_id, symptom_id, playbook, action, target, params,'
    " gate_mode, verdict, verdict_reason, operational_mode, preview, state_before"
)
OUTCOME_COLUMNS = "decision_id, ts, status, state_after, reward, detail"


def bulk_load(store: SQLStore, count: int) -> None:
    """Load decisions fast: COPY on PostgreSQL, executemany in 50,000-row transactions on SQLite.

    Rows loaded with SQL bypass ``record_outcome``, so the analytics counters are rebuilt
    from them afterwards.
    """
    if isinstance(store, PostgresStore):
        raw = store._connections.connection().raw
        with raw.transaction(), raw.cursor() as cur:
            with cur.copy(f"COPY decisions ({DECISION_COLUMNS}) FROM STDIN".encode()) as copy:
                for decision, _ in rows(count):
                    copy.write_row(decision)
            with cur.copy(f"COPY outcomes ({OUTCOME_COLUMNS}) FROM STDIN".encode()) as copy:
                for _, result in rows(count):
                    if result is not None:
                        copy.write_row(result)
        with store.db.write("rebuild counters") as conn:
            decision_stats.rebuild(conn)
        raw.execute(b"ANALYZE")
        return
    chunk: list[tuple[list[Any], list[Any] | None]] = []
    for row in rows(count):
        chunk.append(row)
        if len(chunk) == 50_000 or row[0][0] == f"b{count - 1:08d}":
            with store.db.write("bulk load") as conn:
                conn.executemany(
                    f"INSERT INTO decisions ({DECISION_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                    [d for d, _ in chunk],
                )
                conn.executemany(
                    f"INSERT INTO outcomes ({OUTCOME_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    [o for _, o in chunk if o is not None],
                )
            chunk = []
    with store.db.write("rebuild counters") as conn:
        decision_stats.rebuild(conn)
        conn.execute("ANALYZE")


def analytics(store: SQLStore, count: int, repeat: int) -> dict[str, dict[str, float]]:
    end = 1_600_000_000.0 + count * SPACING
    week = end - 7 * 86400.0
    month = (end - 90 * 86400.0, end - 60 * 86400.0)
    queries: dict[str, Callable[[], object]] = {
        "success_rate (all)": lambda: store.decisions.success_rate(),
        "success_rate (last 7 days)": lambda: store.decisions.success_rate(start_time=week),
        "success_rate (30 days, closed)": lambda: store.decisions.success_rate(*month),
        "reward_trend (daily, all)": lambda: store.decisions.reward_trend(86400.0),
        "reward_trend (hourly, all)": lambda: store.decisions.reward_trend(3600.0),
        "reward_trend (hourly, 7 days)": lambda: store.decisions.reward_trend(
            3600.0, start_time=week
        ),
        "reward_trend (daily, 30 days, closed)": lambda: store.decisions.reward_trend(
            86400.0, *month
        ),
        "reward_trend (15 min, 7 days, raw)": lambda: store.decisions.reward_trend(
            900.0, start_time=week
        ),
        "list (newest 100)": lambda: store.decisions.list(DecisionFilter(limit=100)),
        "list (outcome=failed, 100)": lambda: store.decisions.list(
            DecisionFilter(outcome="failed", limit=100)
        ),
        "list (mode=dry-run, 100)": lambda: store.decisions.list(
            DecisionFilter(mode="dry-run", limit=100)
        ),
        "list (entity, 7 days, 100)": lambda: store.decisions.list(
            DecisionFilter(entity="service:svc7", start_time=week, limit=100)
        ),
        "list (incident)": lambda: store.decisions.list(DecisionFilter(incident_id="inc1234")),
    }
    results: dict[str, dict[str, float]] = {}
    for name, query in queries.items():
        query()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            query()
            times.append((time.perf_counter() - started) * 1000)
        results[name] = {"median_ms": statistics.median(times), "max_ms": max(times)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="write rounds per second")
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": platform.platform(), "python": platform.python_version()}
    for name in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            with backend_store(name, args.postgres, Path(tmp)) as store:
                writes = write_load(store, args.seconds, args.rate)
            with backend_store(name, args.postgres, Path(tmp) / "a") as store:
                started = time.perf_counter()
                bulk_load(store, args.decisions)
                loaded = time.perf_counter() - started
                report[name] = {
                    "writes": writes,
                    "load_seconds": loaded,
                    "analytics": analytics(store, args.decisions, args.repeat),
                }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    out = io.StringIO()
    for name in args.backends.split(","):
        out.write(f"\n{name}: writes ({args.rate:g}/s for {args.seconds:g} s)\n")
        for kind, w in report[name]["writes"].items():
            out.write(
                f"  {kind:10} n={w['n']:<6} p50 {w['p50_ms']:.2f} ms  p99 {w['p99_ms']:.2f} ms"
                f"  max {w['max_ms']:.2f} ms\n"
            )
        out.write(f"{name}: analytics on {args.decisions:,} decisions")
        out.write(f" (loaded in {report[name]['load_seconds']:.0f} s)\n")
        for query, a in report[name]["analytics"].items():
            out.write(f"  {query:38} median {a['median_ms']:8.1f} ms  max {a['max_ms']:8.1f} ms\n")
    print(out.getvalue())


if __name__ == "__main__":
    main()
