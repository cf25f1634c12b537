"""Frozen value objects that flow through the loop.

A :class:`Sample` is a reading, a :class:`Symptom` is what analysis concluded from
readings, an :class:`Incident` groups the symptoms of one entity, a :class:`Decision`
is what planning and the safety gate chose to do about it, and an :class:`Outcome` is
what happened after. A decision is never mutated into its outcome: they are two records.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

HOST = "host"
"""Entity name of the machine itself."""


def service_entity(name: str) -> str:
    """Entity name of a configured service.

    >>> service_entity("web")
    'service:web'
    """
    return f"service:{name}"


def new_id() -> str:
    """A short random identifier, unique enough for one store.

    >>> len(new_id())
    12
    """
    return uuid.uuid4().hex[:12]


def series_key(series: str, labels: Mapping[str, str]) -> str:
    """The identity of a time series: its name and its sorted labels.

    >>> series_key("host.disk.used_percent", {"mount": "/"})
    'host.disk.used_percent{mount="/"}'
    >>> series_key("host.load1", {})
    'host.load1'
    """
    if not labels:
        return series
    inner = ",".join(f'{k}="{labels[k]}"' for k in sorted(labels))
    return f"{series}{{{inner}}}"


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one series at one time (seconds since the epoch).

    ``key`` names the series within its entity (:func:`series_key`); ``ident``,
    ``(entity, key)``, tells one series from every other: two services each have a
    ``service.rss_bytes``.
    """

    series: str
    value: float
    ts: float
    entity: str = HOST
    labels: Mapping[str, str] = field(default_factory=dict)
    key: str = field(init=False, repr=False, compare=False)
    ident: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = series_key(self.series, self.labels)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "ident", (self.entity, key))


class SymptomState(StrEnum):
    """Whether a symptom starts (firing) or ends (cleared)."""

    FIRING = "firing"
    CLEARED = "cleared"


class Severity(StrEnum):
    """How bad a symptom is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Symptom:
    """A conclusion about one entity, with the evidence that supports it.

    ``kind`` is dotted (``service.down``, ``anomaly``); ``evidence`` holds what
    ``setpoint explain`` shows: series, value, expected range, score, model, reason.
    A cleared symptom is a record of its own whose ``clears`` names the firing one.
    """

    kind: str
    entity: str
    ts: float
    state: SymptomState = SymptomState.FIRING
    severity: Severity = Severity.WARNING
    evidence: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    incident_id: str | None = None
    clears: str | None = None

    def cleared(self, ts: float, evidence: Mapping[str, Any]) -> Symptom:
        """The record that ends this firing symptom."""
        return Symptom(
            self.kind,
            self.entity,
            ts,
            SymptomState.CLEARED,
            self.severity,
            evidence,
            incident_id=self.incident_id,
            clears=self.id,
        )


class IncidentStatus(StrEnum):
    """Life cycle of an incident."""

    OPEN = "open"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Incident:
    """The symptoms of one entity grouped while any of them is firing."""

    id: str
    entity: str
    opened_at: float
    status: IncidentStatus = IncidentStatus.OPEN
    kinds: tuple[str, ...] = ()
    resolved_at: float | None = None
    reason: str = ""


class GateMode(StrEnum):
    """How far the safety gate lets an action go."""

    OBSERVE = "observe"
    DRY_RUN = "dry-run"
    APPROVE = "approve"
    AUTO = "auto"


class VerdictStatus(StrEnum):
    """What the safety gate decided for one action."""

    EXECUTE = "execute"
    DRY_RUN = "dry-run"
    OBSERVE = "observe"
    PENDING_APPROVAL = "pending-approval"
    REFUSED = "refused"
    ESCALATE = "escalate"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The safety gate's answer: a value, never an exception."""

    status: VerdictStatus
    mode: GateMode
    reason: str
    rule: str = ""
    """Which rule of the gate decided (``paused``, ``constraint:...``, ``rate``...); audited."""

    @property
    def allowed(self) -> bool:
        """True when the action may really be applied."""
        return self.status is VerdictStatus.EXECUTE


class OperationalMode(StrEnum):
    """Resource policy the host runs under when a decision is taken."""

    HIGH_PERFORMANCE = "HIGH_PERFORMANCE"
    BALANCED = "BALANCED"
    ENERGY_EFFICIENT = "ENERGY_EFFICIENT"


@dataclass(frozen=True, slots=True)
class Decision:
    """What was chosen for an incident, and the gate's verdict on it."""

    id: str
    ts: float
    trigger: str
    entity: str
    incident_id: str | None
    playbook: str
    action: str
    target: str
    params: Mapping[str, Any]
    verdict: Verdict
    operational_mode: OperationalMode = OperationalMode.BALANCED
    preview: str = ""
    state_before: Mapping[str, Any] = field(default_factory=dict)
    symptom_id: str | None = None


class OutcomeStatus(StrEnum):
    """How an applied action turned out."""

    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened after a decision was carried out."""

    decision_id: str
    ts: float
    status: OutcomeStatus
    state_after: Mapping[str, Any] = field(default_factory=dict)
    reward: float = 0.0
    detail: str = ""


class ApprovalStatus(StrEnum):
    """Where a request for human approval stands."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Approval:
    """A decision in ``approve`` mode waiting for (or given) a human's answer.

    It expires at ``expires_at``; an expired approval is never carried out.
    """

    decision_id: str
    requested_at: float
    expires_at: float
    action: str
    target: str
    preview: str = ""
    status: ApprovalStatus = ApprovalStatus.PENDING
    decided_at: float | None = None
    decided_by: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only audit log."""

    ts: float
    actor: str
    event: str
    target: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    decision_id: str | None = None
