"""The repositories of one store over one database, whatever the backend.

A backend (``sqlite.py``, ``postgres.py``) subclasses :class:`SQLStore` with how to
open its database; the repositories themselves are the same for all.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from setpoint.clock import Clock
from setpoint.knowledge.approvals import ApprovalRepository
from setpoint.knowledge.base import (
    AuditLog,
    DecisionRepository,
    IncidentRepository,
    SampleRepository,
    SymptomRepository,
)
from setpoint.knowledge.database import Database
from setpoint.knowledge.detector_state import DetectorStateRepository
from setpoint.knowledge.graph import GraphRepository
from setpoint.knowledge.patterns import PatternRepository
from setpoint.knowledge.predictions import PredictionRepository
from setpoint.knowledge.repositories.approvals import Approvals
from setpoint.knowledge.repositories.audit import Audit
from setpoint.knowledge.repositories.decisions import Decisions
from setpoint.knowledge.repositories.detector_state import DetectorStates
from setpoint.knowledge.repositories.graph import Graph
from setpoint.knowledge.repositories.incidents import Incidents
from setpoint.knowledge.repositories.patterns import Patterns
from setpoint.knowledge.repositories.predictions import Predictions
from setpoint.knowledge.repositories.samples import Samples
from setpoint.knowledge.repositories.symptoms import Symptoms


class OwnedDatabase(Database, Protocol):
    """A database the store opened and so must close."""

    def close(self) -> None:
        """Release every connection."""
        ...


class SQLStore:
    """Everything setpoint knows, behind the repositories, over one :class:`Database`.

    The constructor only builds the repositories; nothing is connected until the
    backend's ``open``. ``features`` names the optional server capabilities found.
    """

    def __init__(self, db: OwnedDatabase, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.features: frozenset[str] = frozenset()
        self.samples: SampleRepository = Samples(db)
        self.symptoms: SymptomRepository = Symptoms(db)
        self.incidents: IncidentRepository = Incidents(db)
        self.decisions: DecisionRepository = Decisions(db, clock)
        self.audit: AuditLog = Audit(db)
        self.patterns: PatternRepository = Patterns(db)
        self.graph: GraphRepository = Graph(db, clock)
        self.approvals: ApprovalRepository = Approvals(db)
        self.predictions: PredictionRepository = Predictions(db)
        self.detector_state: DetectorStateRepository = DetectorStates(db)

    def close(self) -> None:
        """Finish and release every connection the store opened."""
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
