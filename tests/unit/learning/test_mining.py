"""Mining on a real SQLite store: expire the stale, merge the alike, promote the proven."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from setpoint.config.learning import LearningConfig
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import open_store
from setpoint.knowledge.patterns import LEARNED, OBSERVED, Pattern, pattern_id
from setpoint.learning.mining import mine_patterns, similarity

DAY = 86400.0
SIG = "service.unhealthy@service:web"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    opened = open_store(None, tmp_path)
    yield opened
    opened.close()


def pattern(
    action: str = "service.restart",
    s: float = 0,
    f: float = 0,
    incidents: tuple[str, ...] = (),
    seen: float = 100 * DAY,
    **params: object,
) -> Pattern:
    return Pattern(
        id=pattern_id(SIG, action, params),
        type=OBSERVED,
        context={"signature": SIG, "incidents": list(incidents)},
        metric_conditions={"symptom": "service.unhealthy", "entity": "service:web"},
        actions=[{"action": action, **params}],
        confidence=(s + 1) / (s + f + 2),
        last_seen=seen,
        successes=s,
        failures=f,
    )


def test_different_actions_are_never_similar() -> None:
    assert similarity(pattern(), pattern("service.signal", signal="SIGHUP")) == 0.0
    assert similarity(pattern(), pattern()) == 1.0
    assert similarity(pattern(), pattern(settle=2)) == pytest.approx(5 / 6)


def test_recurring_reliable_pattern_becomes_learned(store: KnowledgeStore) -> None:
    proven = pattern(s=3, incidents=("i1", "i2", "i3"))
    once = pattern("service.signal", s=5, incidents=("i1",), signal="SIGHUP")
    unreliable = pattern("service.signal", s=2, f=3, incidents=("a", "b", "c"), signal="SIGUSR1")
    store.patterns.save([proven, once, unreliable])

    run = mine_patterns(store, LearningConfig(), now=101 * DAY)
    assert (run.learned, run.merged, run.expired) == (1, 0, 0)
    types = {p.id: p.type for p in store.patterns.list()}
    assert types == {proven.id: LEARNED, once.id: OBSERVED, unreliable.id: OBSERVED}


def test_similar_patterns_merge_counts_and_keep_the_newest(store: KnowledgeStore) -> None:
    big = pattern(s=4, f=1, incidents=("i1", "i2"), seen=99 * DAY)
    alike = pattern(s=1, incidents=("i2", "i3"), seen=100 * DAY, settle=2)
    store.patterns.save([big, alike])

    run = mine_patterns(store, LearningConfig(min_contexts=10), now=100 * DAY)
    assert run.merged == 1
    [kept] = store.patterns.list()
    assert kept.id == big.id, "the one with the most evidence keeps its id"
    assert (kept.successes, kept.failures, kept.last_seen) == (5, 1, 100 * DAY)
    assert kept.confidence == pytest.approx(6 / 8)
    assert sorted(kept.contexts) == ["i1", "i2", "i3"]


def test_patterns_unseen_for_30_days_expire(store: KnowledgeStore) -> None:
    store.patterns.save([pattern(seen=60 * DAY), pattern("service.signal", signal="SIGHUP")])
    run = mine_patterns(store, LearningConfig(), now=100 * DAY)
    assert run.expired == 1
    assert [p.action for p in store.patterns.list()] == ["service.signal"]
    shorter = mine_patterns(store, LearningConfig(expire_after=DAY / 2), now=100 * DAY + DAY)
    assert shorter.expired == 1


def test_merged_learned_pattern_stays_learned(store: KnowledgeStore) -> None:
    store.patterns.save([replace(pattern(s=1), type=LEARNED), pattern(s=2, settle=2)])
    mine_patterns(store, LearningConfig(min_contexts=10), now=100 * DAY)
    assert [p.type for p in store.patterns.list()] == [LEARNED]
