"""Every resolved incident into the knowledge graph: its problem, what was tried, how it went.

The daemon hands :meth:`GraphLinker.link_incident` and :meth:`GraphLinker.on_outcome`
to its store-writer thread, so they run in order after the writes of the decisions and
outcomes they read, and never on the event loop. Nothing here embeds text: embeddings
are made lazily by :class:`~setpoint.knowledge.recall.Recall` in the process that
searches, which keeps the model out of the agent's memory.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from setpoint.knowledge.base import DecisionFilter, KnowledgeStore
from setpoint.knowledge.graph import Node, NodeKind
from setpoint.knowledge.json_columns import to_json
from setpoint.model import Incident, Outcome, OutcomeStatus, Symptom, VerdictStatus

log = logging.getLogger(__name__)

_AWAITING_MAX = 10_000
"""Decisions whose outcome is still to come, at most; the oldest are forgotten first."""

_DIGITS = re.compile(r"\d+")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


def problem_node(incident: Incident, symptoms: Sequence[Symptom]) -> Node:
    """The problem an incident is an instance of: its kinds on its entity.

    The body is the symptoms' reasons with numbers (pids, sizes) replaced by ``N``, so
    the same problem keeps the same text, and so its embedding, from one time to the next.

    >>> inc = Incident("i1", "service:web", 0.0, kinds=("service.unhealthy",))
    >>> s = Symptom("service.unhealthy", "service:web", 0.0, evidence={"reason": "pid 42 stopped"})
    >>> node = problem_node(inc, [s])
    >>> node.title, node.body
    ('service.unhealthy on service:web', 'service.unhealthy: pid N stopped')
    """
    signature = f"{' + '.join(sorted(set(incident.kinds)))} on {incident.entity}"
    reasons: dict[str, None] = {}
    for symptom in symptoms:
        reason = symptom.evidence.get("reason")
        if symptom.clears is None and isinstance(reason, str):
            reasons[f"{symptom.kind}: {_DIGITS.sub('N', reason)}"] = None
    return Node(
        id=f"problem:{_digest(signature)}",
        kind=NodeKind.PROBLEM,
        title=signature,
        body="\n".join(reasons),
        attrs={"entity": incident.entity, "kinds": sorted(set(incident.kinds))},
    )


def solution_node(action: str, params: Mapping[str, Any]) -> Node:
    """A remediation: an action with its parameters, whatever it was aimed at.

    >>> solution_node("service.signal", {"signal": "SIGHUP"}).title
    'service.signal signal=SIGHUP'
    """
    shown = " ".join(f"{k}={params[k]}" for k in sorted(params))
    return Node(
        id=f"solution:{_digest(action + to_json(params))}",
        kind=NodeKind.SOLUTION,
        title=f"{action} {shown}".strip(),
        attrs={"action": action, "params": dict(params)},
    )


class GraphLinker:
    """Links problems, solutions and outcomes; call it from one thread only (the writer)."""

    def __init__(self, store: KnowledgeStore) -> None:
        self._store = store
        self._awaiting: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def link_incident(self, incident: Incident) -> Node:
        """Record the incident's problem, each applied solution and each outcome known.

        A decision whose outcome is not stored yet is remembered, and its outcome is
        counted when :meth:`on_outcome` hears of it.
        """
        store = self._store
        problem = problem_node(incident, store.symptoms.for_incident(incident.id))
        known = store.graph.get_node(problem.id)
        seen = int(known.attrs.get("incidents", 0)) if known else 0
        attrs = {**problem.attrs, "incidents": seen + 1, "last_incident": incident.id}
        problem = Node(problem.id, problem.kind, problem.title, problem.body, attrs)
        store.graph.upsert_node(problem)
        for record in store.decisions.list(DecisionFilter(incident_id=incident.id, limit=1000)):
            if record.verdict != VerdictStatus.EXECUTE.value:
                continue
            params = record.actions_taken[0].get("params", {}) if record.actions_taken else {}
            solution = solution_node(record.action, params)
            store.graph.upsert_node(solution)
            if record.outcome is None:
                self._await(record.id, solution.id, problem.id)
            else:
                ts = record.outcome_ts or record.timestamp
                store.graph.record_outcome(
                    solution.id, problem.id, OutcomeStatus(record.outcome), ts
                )
        log.debug("graph: linked incident %s as %s", incident.id, problem.title)
        return problem

    def _await(self, decision_id: str, solution_id: str, problem_id: str) -> None:
        self._awaiting[decision_id] = (solution_id, problem_id)
        while len(self._awaiting) > _AWAITING_MAX:
            forgotten, _ = self._awaiting.popitem(last=False)
            log.warning("graph: gave up waiting for the outcome of decision %s", forgotten)

    def on_outcome(self, outcome: Outcome) -> None:
        """Count an outcome that arrived after its incident was linked (others are ignored)."""
        pair = self._awaiting.pop(outcome.decision_id, None)
        if pair is not None:
            self._store.graph.record_outcome(*pair, outcome.status, outcome.ts)
