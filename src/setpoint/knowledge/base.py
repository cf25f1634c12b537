"""The KnowledgeStore contract: narrow named methods grouped by aggregate.

No SQL or session leaks out. Backends (SQLite and PostgreSQL) pass one
contract suite. Every method is synchronous and thread-safe; the daemon calls the
writing ones from one executor thread so the event loop never blocks on disk.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from setpoint.clock import Clock
from setpoint.knowledge.approvals import ApprovalRepository
from setpoint.knowledge.detector_state import DetectorStateRepository
from setpoint.knowledge.graph import GraphRepository
from setpoint.knowledge.patterns import PatternRepository
from setpoint.knowledge.predictions import PredictionRepository
from setpoint.model import AuditEntry, Decision, Incident, Outcome, Sample, Symptom


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision joined with its outcome: the seed's ``hcl_decisions`` row and more.

    ``outcome`` is SUCCESS, PARTIAL or FAILED once known, ``None`` while pending or when
    nothing was applied (dry-run, observe, refused, escalated).
    """

    id: str
    timestamp: float
    trigger: str
    operational_mode: str
    actions_taken: list[dict[str, Any]]
    state_before: dict[str, Any]
    state_after: dict[str, Any] | None
    outcome: str | None
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
    outcome_detail: str | None = None
    outcome_ts: float | None = None


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """Which decisions to list; ``None`` means any.

    ``mode`` matches the gate mode (observe, dry-run, approve, auto) or the
    operational mode (HIGH_PERFORMANCE, BALANCED, ENERGY_EFFICIENT).
    """

    mode: str | None = None
    outcome: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    entity: str | None = None
    incident_id: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class SuccessRate:
    """Share of applied decisions that succeeded, overall and per action."""

    total: int
    success: int
    partial: int
    failed: int
    rate: float | None
    by_action: Mapping[str, Mapping[str, float | int | None]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RewardPoint:
    """Mean reward of the decisions whose outcome fell in one time bucket."""

    bucket_start: float
    mean_reward: float
    count: int


@dataclass(frozen=True, slots=True)
class HourlyRollup:
    """One series over one clock hour: what is kept once its samples are past retention.

    ``hour`` is the start of the hour (a multiple of 3600 seconds since the epoch).
    """

    key: str
    series: str
    entity: str
    labels: Mapping[str, str]
    hour: float
    min: float
    max: float
    avg: float
    count: int


@dataclass(frozen=True, slots=True)
class RetentionRun:
    """What one retention pass did: hours rolled up, samples and roll-ups deleted."""

    hours_rolled_up: int
    samples_purged: int
    hourly_purged: int


class SampleRepository(Protocol):
    """Time series readings, kept for the retention period."""

    def append(self, samples: Sequence[Sample]) -> None:
        """Store a batch of samples."""
        ...

    def query(
        self,
        key: str | None = None,
        entity: str | None = None,
        start: float | None = None,
        end: float | None = None,
        limit: int = 1000,
    ) -> list[Sample]:
        """Return samples by series key and/or entity within [start, end], oldest first."""
        ...

    def purge(self, before: float) -> int:
        """Delete samples older than ``before``; return how many went."""
        ...

    def retain(self, now: float, keep_samples: float, keep_hourly: float) -> RetentionRun:
        """Roll up the finished hours not rolled up yet, then delete what is past retention.

        Samples are deleted only once their hour is rolled up. Work is done in short
        transactions so other writers never wait long.
        """
        ...

    def hourly(
        self,
        key: str,
        start: float | None = None,
        end: float | None = None,
        entity: str | None = None,
    ) -> list[HourlyRollup]:
        """The roll-ups of series ``key`` whose hour starts in [start, end], oldest first.

        Of every entity that has the series, or of ``entity`` only.
        """
        ...


class SymptomRepository(Protocol):
    """Every symptom, firing and cleared, with its evidence."""

    def record(self, symptom: Symptom) -> None:
        """Store one symptom."""
        ...

    def for_incident(self, incident_id: str) -> list[Symptom]:
        """Return the symptoms grouped into an incident, oldest first."""
        ...

    def get(self, symptom_id: str) -> Symptom | None:
        """One symptom by id."""
        ...


class IncidentRepository(Protocol):
    """Incidents: opened, updated, resolved; never deleted."""

    def save(self, incident: Incident) -> None:
        """Insert or replace an incident by id."""
        ...

    def get(self, incident_id: str) -> Incident | None:
        """One incident by id."""
        ...

    def list(
        self, status: str | None = None, entity: str | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents, newest first."""
        ...


class DecisionRepository(Protocol):
    """Decisions, their outcomes, human feedback and analytics."""

    def record(self, decision: Decision) -> None:
        """Store a decision (before anything is applied)."""
        ...

    def record_outcome(self, outcome: Outcome) -> None:
        """Store what happened after a decision was applied."""
        ...

    def add_feedback(self, decision_id: str, feedback: Mapping[str, Any]) -> bool:
        """Attach human feedback; False when no such decision exists."""
        ...

    def get(self, decision_id: str) -> DecisionRecord | None:
        """One decision with its outcome."""
        ...

    def list(self, where: DecisionFilter = DecisionFilter()) -> list[DecisionRecord]:
        """Decisions matching ``where``, newest first."""
        ...

    def success_rate(
        self, start_time: float | None = None, end_time: float | None = None
    ) -> SuccessRate:
        """Outcome counts of applied decisions in a time range."""
        ...

    def reward_trend(
        self,
        bucket_seconds: float = 3600.0,
        start_time: float | None = None,
        end_time: float | None = None,
    ) -> builtins.list[RewardPoint]:
        """Mean reward per time bucket, oldest first."""
        ...


class AuditLog(Protocol):
    """Append-only record of every verdict, refusal, action and rollback."""

    def append(self, entry: AuditEntry) -> None:
        """Add one entry."""
        ...

    def list(self, decision_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Entries, oldest first (for one decision when given)."""
        ...

    def purge(self, before: float) -> int:
        """Delete entries older than ``before``; return how many went."""
        ...


class KnowledgeStore(Protocol):
    """Everything setpoint knows, behind narrow repositories."""

    samples: SampleRepository
    symptoms: SymptomRepository
    incidents: IncidentRepository
    decisions: DecisionRepository
    audit: AuditLog
    patterns: PatternRepository
    graph: GraphRepository
    approvals: ApprovalRepository
    predictions: PredictionRepository
    detector_state: DetectorStateRepository
    features: frozenset[str]
    """Optional server capabilities found at open (``timescaledb``, ``vector``)."""

    def close(self) -> None:
        """Finish pending writes and release the store."""
        ...

    def __enter__(self) -> Self:
        """The store itself, closed at the end of the ``with`` block."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        ...


class StoreBackend(Protocol):
    """A backend: opens a store from a URL (``setpoint.knowledge`` entry points).

    The entry point names the URL scheme it serves (``sqlite``, ``postgresql``).
    """

    def from_url(
        self, url: str | None, data_dir: Path, clock: Clock | None = None
    ) -> KnowledgeStore:
        """Open, check and migrate the store ``url`` names (the data dir's when None)."""
        ...
