"""Mining the pattern store: expire the stale, merge the alike, promote the proven.

Run periodically on the store's writer thread (never on the event loop), in this order:

1. **Expire**: patterns not seen for ``expire_after`` (30 days) are deleted.
2. **Merge**: patterns at least ``similarity`` (0.8) alike become one: counts summed,
   the newest ``last_seen`` kept, incidents united, confidence recomputed from the
   counts. The kept id is that of the pattern with the most evidence.
3. **Promote**: an ``observed`` pattern seen in at least ``min_contexts`` (3) distinct
   incidents with confidence at least ``min_confidence`` (0.7) becomes ``learned``.
   A learned pattern is never demoted; its confidence keeps following its outcomes.

**Similarity** is the Jaccard index (shared / all) of the two patterns' tokens: the
parts of the signature (``service.unhealthy``, ``service:web``), the action's name and
each ``param=value``, and each ``condition=value``. Patterns whose actions have
different names are never similar, however alike their incidents: a SIGHUP and a
restart are two remediations to compare, never one to merge.

>>> from setpoint.knowledge.patterns import Pattern
>>> a = Pattern("a", "observed", {"signature": "service.down@service:web"},
...             {"symptom": "service.down"}, [{"action": "service.restart"}], 0.5, 0.0)
>>> b = Pattern("b", "observed", {"signature": "service.down@service:web"},
...             {"symptom": "service.down"}, [{"action": "service.restart", "settle": 2}],
...             0.5, 0.0)
>>> round(similarity(a, b), 2)
0.8
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from setpoint.config.learning import LearningConfig
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.json_columns import to_json
from setpoint.knowledge.patterns import LEARNED, MAX_CONTEXTS, OBSERVED, Pattern, beta_confidence

log = logging.getLogger(__name__)


def tokens(pattern: Pattern) -> frozenset[str]:
    """The tokens similarity compares: signature parts, action and params, conditions.

    >>> sorted(tokens(Pattern("p", "observed", {"signature": "service.down@service:web"},
    ...                       {"symptom": "service.down"}, [{"action": "service.restart"}],
    ...                       0.5, 0.0)))
    ['action:service.restart', 'cond:symptom="service.down"', 'sig:service.down', 'sig:service:web']
    """
    found = {f"sig:{part}" for part in pattern.signature.split("@") if part}
    for step in pattern.actions:
        found |= {f"action:{step.get('action', '')}"}
        found |= {f"param:{k}={to_json(v)}" for k, v in step.items() if k != "action"}
    found |= {f"cond:{k}={to_json(v)}" for k, v in pattern.metric_conditions.items()}
    return frozenset(found)


def similarity(a: Pattern, b: Pattern) -> float:
    """Jaccard index of the two patterns' tokens; 0 when their actions differ by name."""
    if [s.get("action") for s in a.actions] != [s.get("action") for s in b.actions]:
        return 0.0
    ta, tb = tokens(a), tokens(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def merged(group: Sequence[Pattern]) -> Pattern:
    """One pattern of a group of similar ones (the first has the most evidence)."""
    keep = group[0]
    successes = sum(p.successes for p in group)
    failures = sum(p.failures for p in group)
    incidents: list[str] = []
    for p in sorted(group, key=lambda p: p.last_seen):
        incidents = [i for i in incidents if i not in p.contexts] + p.contexts
    return replace(
        keep,
        type=LEARNED if any(p.type == LEARNED for p in group) else keep.type,
        context={**keep.context, "incidents": incidents[-MAX_CONTEXTS:]},
        successes=successes,
        failures=failures,
        confidence=beta_confidence(successes, failures),
        last_seen=max(p.last_seen for p in group),
    )


def similar_groups(patterns: Sequence[Pattern], threshold: float) -> list[list[Pattern]]:
    """Greedy grouping: each pattern, most evidence first, gathers the unclaimed alike."""
    left = sorted(patterns, key=lambda p: (-(p.successes + p.failures), -p.last_seen, p.id))
    groups: list[list[Pattern]] = []
    while left:
        head, *rest = left
        group = [head, *(p for p in rest if similarity(head, p) >= threshold)]
        groups.append(group)
        left = [p for p in rest if p not in group]
    return groups


def proven(pattern: Pattern, config: LearningConfig) -> bool:
    """True when an observed pattern has earned promotion to ``learned``."""
    return (
        pattern.type == OBSERVED
        and len(pattern.contexts) >= config.min_contexts
        and pattern.confidence >= config.min_confidence
    )


@dataclass(frozen=True, slots=True)
class MiningRun:
    """What one mining pass did."""

    expired: int
    merged: int
    learned: int


def mine_patterns(store: KnowledgeStore, config: LearningConfig, now: float) -> MiningRun:
    """Expire, merge and promote the store's patterns; return what was done."""
    expired = store.patterns.expire(now - config.expire_after)
    merged_away = 0
    for group in similar_groups(store.patterns.list(), config.similarity):
        if len(group) > 1:
            store.patterns.merge(merged(group), [p.id for p in group[1:]])
            merged_away += len(group) - 1
    promoted = [
        replace(p, type=LEARNED) for p in store.patterns.list(type=OBSERVED) if proven(p, config)
    ]
    store.patterns.save(promoted)
    run = MiningRun(expired, merged_away, len(promoted))
    if expired or merged_away or promoted:
        log.info(
            "patterns: %d expired, %d merged, %d learned (%s)",
            expired,
            merged_away,
            len(promoted),
            ", ".join(f"{p.action} for {p.signature}" for p in promoted) or "none new",
        )
    return run
