"""HTTP response and request models, kept apart from the value objects in model.py.

The command line prints the same models with ``--json``, so both speak one format.
Every ``*Out`` model validates straight from its store object (``from_attributes``).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field


class StatusProvider(Protocol):
    """The live agent, as the API sees it: a snapshot of its state.

    The snapshot holds ``loop_ok`` (False when the MAPE-K loop has stalled) and
    whatever else the agent reports (sensors, services, open incidents).
    """

    def status(self) -> dict[str, Any]:
        """Return a JSON-ready snapshot of the agent's state."""
        ...


class Out(BaseModel):
    """Base of the response models: read from attributes, never changed after."""

    model_config = ConfigDict(from_attributes=True, frozen=True)


class HealthOut(Out):
    """Liveness: ``ok``, or ``stalled`` when the loop stopped turning."""

    status: Literal["ok", "stalled"]


class SymptomOut(Out):
    """A symptom with the evidence that raised it."""

    id: str
    kind: str
    entity: str
    ts: float
    state: str
    severity: str
    evidence: dict[str, Any] = Field(
        description="series, value, expected range, score, model and reason"
    )
    incident_id: str | None


class IncidentOut(Out):
    """An incident: the symptoms of one entity grouped while any fired."""

    id: str
    entity: str
    opened_at: float
    status: str
    kinds: list[str]
    resolved_at: float | None
    reason: str


class IncidentDetailOut(IncidentOut):
    """An incident with its symptoms, oldest first."""

    symptoms: list[SymptomOut]


class DecisionOut(Out):
    """A decision with its outcome: the ``hcl_decisions`` row plus how it was reached."""

    id: str
    timestamp: float
    trigger: str
    operational_mode: str
    actions_taken: list[dict[str, Any]]
    state_before: dict[str, Any]
    state_after: dict[str, Any] | None
    outcome: str | None = Field(description="SUCCESS, PARTIAL, FAILED; null until applied")
    reward_signal: float | None
    human_feedback: dict[str, Any] | None
    entity: str
    incident_id: str | None
    symptom_id: str | None
    playbook: str
    action: str
    target: str
    gate_mode: str
    verdict: str
    verdict_reason: str
    preview: str
    outcome_detail: str | None
    outcome_ts: float | None


class AuditEntryOut(Out):
    """One line of the audit log: a verdict, an action step or a rollback."""

    ts: float
    actor: str
    event: str
    target: str
    detail: dict[str, Any]
    decision_id: str | None


class SuccessRateOut(Out):
    """How applied decisions turned out: counts, the success share, and per action."""

    total: int
    success: int
    partial: int
    failed: int
    rate: float | None = Field(description="success / total; null when nothing was applied")
    by_action: dict[str, dict[str, float | int | None]]


class RewardPointOut(Out):
    """Mean reward of the outcomes in one time bucket."""

    bucket_start: float
    mean_reward: float
    count: int


class FeedbackIn(BaseModel):
    """A human's verdict on a decision: -1 (it was wrong), 0 (unsure), 1 (it was right).

    The three-point scale maps straight onto the reward signal the learner uses.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rating: int = Field(ge=-1, le=1, strict=True, description="-1 wrong, 0 unsure, 1 right")
    comment: str = Field("", max_length=2000)


class ApprovalOut(Out):
    """A decision waiting for (or given) a human's answer; it never runs once expired."""

    decision_id: str
    requested_at: float
    expires_at: float
    action: str
    target: str
    preview: str
    status: str = Field(description="pending, approved, denied or expired")
    decided_at: float | None
    decided_by: str | None
    note: str


class AnswerIn(BaseModel):
    """Who answers an approval, and an optional note for the audit log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str = Field("api", min_length=1, max_length=200)
    note: str = Field("", max_length=2000)


class PauseIn(BaseModel):
    """Who pauses or resumes setpoint, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str = Field("api", min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)


class PauseOut(Out):
    """The kill switch: whether every action is stopped, since when, by whom and why."""

    paused: bool
    since: float | None = None
    by: str | None = None
    reason: str | None = None
