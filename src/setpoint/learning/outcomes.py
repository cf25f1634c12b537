"""From decisions and outcomes on the bus to each pattern's confidence.

The executor publishes every decision (DECISIONS) and, for the ones it applied, the
outcome (OUTCOMES). Only an applied action has an outcome, so dry-run, refused and
escalated decisions teach nothing. SUCCESS adds one success to the pattern of
(incident signature, action and params), FAILED one failure, PARTIAL half of each;
the pattern is created on its first outcome.

Writes go through the store's writer thread, in order, so a choice made after an
outcome (read through the same writer) already counts it. When the decision came from
a ``choose: learned`` playbook, why that candidate was chosen is written to the audit
log under the decision's id, where ``setpoint explain`` shows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from setpoint.knowledge.patterns import (
    OBSERVED,
    Evidence,
    Pattern,
    action_step,
    beta_confidence,
    pattern_id,
    signature,
)
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import AuditEntry, Decision, Outcome, OutcomeStatus
from setpoint.plan.learned import LearnedChooser

log = logging.getLogger(__name__)

CREDIT = {
    OutcomeStatus.SUCCESS: (1.0, 0.0),
    OutcomeStatus.FAILED: (0.0, 1.0),
    OutcomeStatus.PARTIAL: (0.5, 0.5),
}
"""(successes, failures) each verified outcome adds."""


@dataclass(frozen=True, slots=True)
class _Pending:
    pattern: Pattern
    incident: str


def pattern_for(decision: Decision) -> Pattern:
    """The (empty) pattern of a decision's remediation for its incident signature.

    >>> from setpoint.model import GateMode, Verdict, VerdictStatus
    >>> d = Decision("d1", 5.0, "service.unhealthy", "service:web", "i1", "heal-web",
    ...              "service.restart", "service:web", {},
    ...              Verdict(VerdictStatus.EXECUTE, GateMode.AUTO, "ok"))
    >>> p = pattern_for(d)
    >>> p.signature, p.actions, p.confidence
    ('service.unhealthy@service:web', [{'action': 'service.restart'}], 0.5)
    """
    sig = signature(decision.trigger, decision.entity)
    return Pattern(
        id=pattern_id(sig, decision.action, decision.params),
        type=OBSERVED,
        context={"signature": sig, "incidents": []},
        metric_conditions={"symptom": decision.trigger, "entity": decision.entity},
        actions=[action_step(decision.action, decision.params)],
        confidence=beta_confidence(0, 0),
        last_seen=decision.ts,
    )


class OutcomeLearner:
    """Turns each applied decision's outcome into evidence for its pattern."""

    def __init__(self, writer: StoreWriter, chooser: LearnedChooser | None = None) -> None:
        self.writer = writer
        self.chooser = chooser
        self._pending: dict[str, _Pending] = {}

    def on_decision(self, decision: Decision) -> None:
        """Remember an applied decision until its outcome; audit why it was chosen."""
        if self.chooser is not None:
            choice = self.chooser.take_reason(decision.symptom_id, decision.playbook)
            if choice is not None:
                log.info("decision %s: %s", decision.id, choice.summary())
                entry = AuditEntry(
                    decision.ts,
                    "setpoint",
                    "learned-choice",
                    decision.target,
                    choice.reason(),
                    decision.id,
                )
                self.writer.submit(self.writer.store.audit.append, entry)
        if decision.verdict.allowed:
            incident = decision.incident_id or decision.symptom_id or decision.id
            self._pending[decision.id] = _Pending(pattern_for(decision), incident)

    def on_outcome(self, outcome: Outcome) -> None:
        """Add the outcome to its decision's pattern (through the writer thread)."""
        pending = self._pending.pop(outcome.decision_id, None)
        if pending is None:
            return
        successes, failures = CREDIT[outcome.status]
        evidence = Evidence(successes, failures, outcome.ts, pending.incident, pending.pattern)
        patterns = self.writer.store.patterns
        self.writer.submit(patterns.update_confidence, pending.pattern.id, evidence)
