"""Every KnowledgeStore backend keeps the PatternRepository contract.

The backends and the ``store`` fixture are those of test_knowledge_stores, so a backend
added there runs these checks too.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.patterns import (
    LEARNED,
    MAX_CONTEXTS,
    OBSERVED,
    Evidence,
    Pattern,
    beta_confidence,
    pattern_id,
)
from tests.contract import test_knowledge_stores
from tests.contract.test_knowledge_stores import Backend

backend = test_knowledge_stores.backend
store = test_knowledge_stores.store

SIG = "service.unhealthy@service:web"


def pattern(action: str = "service.restart", sig: str = SIG, **params: object) -> Pattern:
    return Pattern(
        id=pattern_id(sig, action, params),
        type=OBSERVED,
        context={"signature": sig, "incidents": []},
        metric_conditions={"symptom": sig.split("@")[0], "entity": sig.split("@")[1]},
        actions=[{"action": action, **params}],
        confidence=0.5,
        last_seen=100.0,
    )


def test_save_get_list_round_trip(store: KnowledgeStore) -> None:
    restart = pattern()
    hup = replace(pattern("service.signal", signal="SIGHUP"), type=LEARNED, successes=2.5)
    other = pattern(sig="service.down@service:db")
    store.patterns.save([restart, hup, other])
    store.patterns.save([])

    assert store.patterns.get(restart.id) == restart
    assert store.patterns.get("nope") is None
    assert store.patterns.list(SIG) == sorted([restart, hup], key=lambda p: p.id)
    assert store.patterns.list(type=LEARNED) == [hup]
    assert len(store.patterns.list()) == 3

    store.patterns.save([replace(restart, confidence=0.9, type=LEARNED)])
    assert store.patterns.get(restart.id) == replace(restart, confidence=0.9, type=LEARNED)


def test_save_is_all_or_nothing(store: KnowledgeStore) -> None:
    broken = replace(pattern("service.signal", signal="SIGHUP"), confidence=None)  # type: ignore[arg-type]
    with pytest.raises(KnowledgeError):
        store.patterns.save([pattern(), broken])
    assert store.patterns.list() == []


def test_update_confidence_counts_verified_outcomes(store: KnowledgeStore) -> None:
    template = pattern()
    assert store.patterns.update_confidence(template.id, Evidence(1, 0, 200.0, "i1")) is None

    first = store.patterns.update_confidence(template.id, Evidence(1, 0, 200.0, "i1", template))
    assert first is not None
    assert (first.successes, first.failures, first.last_seen) == (1.0, 0.0, 200.0)
    assert first.confidence == pytest.approx(beta_confidence(1, 0))
    assert first.contexts == ["i1"]

    store.patterns.update_confidence(template.id, Evidence(0, 1, 300.0, "i2", template))
    late = store.patterns.update_confidence(template.id, Evidence(0.5, 0.5, 250.0, "i1"))
    assert late is not None
    assert (late.successes, late.failures) == (1.5, 1.5)
    assert late.confidence == pytest.approx(0.5)
    assert late.last_seen == 300.0, "an older outcome never moves last_seen back"
    assert late.contexts == ["i2", "i1"], "distinct incidents, latest last"
    assert store.patterns.get(template.id) == late


def test_incidents_remembered_are_bounded(store: KnowledgeStore) -> None:
    template = pattern()
    for i in range(MAX_CONTEXTS + 5):
        store.patterns.update_confidence(template.id, Evidence(1, 0, float(i), f"i{i}", template))
    found = store.patterns.get(template.id)
    assert found is not None
    assert found.successes == MAX_CONTEXTS + 5
    assert found.contexts == [f"i{i}" for i in range(5, MAX_CONTEXTS + 5)]


def test_concurrent_updates_lose_no_outcome(backend: Backend) -> None:
    template = pattern()
    stores = [backend.open() for _ in range(4)]
    try:

        def work(s: KnowledgeStore) -> None:
            for _ in range(20):
                s.patterns.update_confidence(template.id, Evidence(1, 0, 1.0, None, template))

        threads = [threading.Thread(target=work, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        found = stores[0].patterns.get(template.id)
    finally:
        for s in stores:
            s.close()
    assert found is not None
    assert found.successes == 80
    assert found.confidence == pytest.approx(beta_confidence(80, 0))


def test_merge_and_expire(store: KnowledgeStore) -> None:
    a, b, c = pattern(), pattern(settle=2), replace(pattern(sig="x@y"), last_seen=10.0)
    store.patterns.save([a, b, c])
    store.patterns.merge(replace(a, successes=3.0), [a.id, b.id])
    assert store.patterns.get(b.id) is None
    kept = store.patterns.get(a.id)
    assert kept is not None and kept.successes == 3.0

    assert store.patterns.expire(before=50.0) == 1
    assert [p.id for p in store.patterns.list()] == [a.id]
