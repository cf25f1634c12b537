"""Patterns: what setpoint knows works (or does not) for one kind of incident.

A pattern is the seed's record (id, type, context, metric conditions, actions,
confidence, last_seen) plus the verified outcomes behind its confidence: ``successes``
and ``failures`` (a PARTIAL outcome counts half of each). Confidence is the mean of the
posterior Beta(successes + 1, failures + 1): 0.5 with no evidence, near 1 after many
verified successes, near 0 after many failures.

The pattern of one remediation for one incident signature has a fixed id
(:func:`pattern_id`), so every outcome of that pair lands on the same record.
``context["signature"]`` holds the signature, ``context["incidents"]`` the latest
distinct incidents it was seen in (mining counts them as contexts).

Types: ``observed`` (made from outcomes), ``learned`` (an observed pattern that mining
found recurring and reliable), or what an imported file says.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from setpoint.knowledge.json_columns import to_json

OBSERVED = "observed"
LEARNED = "learned"
MAX_CONTEXTS = 50
"""How many distinct incident ids a pattern remembers (enough to count recurrence)."""


def signature(kind: str, entity: str) -> str:
    """The incident signature a pattern is keyed on: symptom kind at entity.

    >>> signature("service.unhealthy", "service:web")
    'service.unhealthy@service:web'
    """
    return f"{kind}@{entity}"


def action_step(action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """One action as stored in a pattern: ``{"action": name, **params}``.

    >>> action_step("service.signal", {"signal": "SIGHUP"})
    {'action': 'service.signal', 'signal': 'SIGHUP'}
    """
    return {"action": action, **params}


def pattern_id(sig: str, action: str, params: Mapping[str, Any]) -> str:
    """The fixed id of the pattern for ``action`` with ``params`` on incidents ``sig``.

    >>> pattern_id("service.unhealthy@service:web", "service.restart", {})
    'pat-ada868619be8'
    """
    key = to_json([sig, action_step(action, params)])
    return "pat-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def beta_confidence(successes: float, failures: float) -> float:
    """The mean of Beta(successes + 1, failures + 1): the expected chance of success.

    >>> beta_confidence(0, 0), beta_confidence(8, 0), beta_confidence(0, 3)
    (0.5, 0.9, 0.2)
    """
    return (successes + 1.0) / (successes + failures + 2.0)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A remediation's track record for one incident signature.

    >>> p = Pattern("p1", OBSERVED, {"signature": "s@e"}, {}, [{"action": "a"}], 0.5, 0.0)
    >>> p.signature, p.action, p.params
    ('s@e', 'a', {})
    """

    id: str
    type: str
    context: Mapping[str, Any]
    metric_conditions: Mapping[str, Any]
    actions: Sequence[Mapping[str, Any]]
    confidence: float
    last_seen: float
    successes: float = 0.0
    failures: float = 0.0

    @property
    def signature(self) -> str:
        """The incident signature the pattern answers (``kind@entity``), or ``""``."""
        return str(self.context.get("signature", ""))

    @property
    def action(self) -> str:
        """The name of the first action (``""`` when it has none)."""
        return str(self.actions[0].get("action", "")) if self.actions else ""

    @property
    def params(self) -> dict[str, Any]:
        """The parameters of the first action."""
        first = self.actions[0] if self.actions else {}
        return {k: v for k, v in first.items() if k != "action"}

    @property
    def contexts(self) -> list[str]:
        """The distinct incidents the pattern was seen in, oldest first."""
        return [str(i) for i in self.context.get("incidents", [])]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One verified outcome of a pattern's remediation: what to add to its record."""

    successes: float
    failures: float
    seen_at: float
    incident: str | None = None
    template: Pattern | None = field(default=None, compare=False)
    """The pattern to create when none has the id yet."""


class PatternRepository(Protocol):
    """Patterns and their confidence."""

    def save(self, patterns: Sequence[Pattern]) -> None:
        """Insert the patterns or replace those with their ids, all in one transaction."""
        ...

    def get(self, pattern_id: str) -> Pattern | None:
        """One pattern by id."""
        ...

    def list(self, sig: str | None = None, type: str | None = None) -> builtins.list[Pattern]:
        """Patterns (of one signature, of one type), by signature then id."""
        ...

    def update_confidence(self, pattern_id: str, evidence: Evidence) -> Pattern | None:
        """Add verified outcomes to a pattern and recompute its confidence, atomically.

        The pattern is created from ``evidence.template`` when it does not exist;
        without a template, a missing pattern gives None.
        """
        ...

    def merge(self, into: Pattern, remove: Sequence[str]) -> None:
        """Store ``into`` and delete the patterns ``remove`` in one transaction."""
        ...

    def expire(self, before: float) -> int:
        """Delete the patterns last seen before ``before``; return how many went."""
        ...
