"""The embedded knowledge store: one SQLite file in WAL mode.

Open it with :func:`open_store`, which checks the file, switches it to WAL and applies
the migrations. Each repository method is one statement or one transaction, safe to
call from any thread; see :mod:`setpoint.knowledge.sqlite_connection` for how threads
and processes share the file.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from setpoint.clock import Clock, SystemClock
from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import (
    AuditLog,
    DecisionRepository,
    IncidentRepository,
    SampleRepository,
    SymptomRepository,
)
from setpoint.knowledge.json_columns import list_from_json, object_from_json, to_json
from setpoint.knowledge.migrate import apply_sqlite_migrations, load_migrations
from setpoint.knowledge.sqlite_connection import SQLiteConnections, where_clause
from setpoint.knowledge.sqlite_decisions import SQLiteDecisions
from setpoint.model import (
    AuditEntry,
    Incident,
    IncidentStatus,
    Sample,
    Severity,
    Symptom,
    SymptomState,
)

logger = logging.getLogger(__name__)


def _sample(row: sqlite3.Row) -> Sample:
    if row["labels"] == "{}":
        return Sample(row["series"], row["value"], row["ts"], row["entity"])
    labels = object_from_json(row["labels"])
    return Sample(row["series"], row["value"], row["ts"], row["entity"], labels)


class SQLiteSamples:
    """Time series readings in the ``samples`` table."""

    def __init__(self, db: SQLiteConnections) -> None:
        self._db = db

    def append(self, samples: Sequence[Sample]) -> None:
        """Store a batch of samples in one transaction."""
        rows = [
            (s.key, s.series, s.entity, to_json(s.labels) if s.labels else "{}", s.ts, s.value)
            for s in samples
        ]
        if not rows:
            return
        with self._db.write("append samples") as conn:
            conn.executemany(
                "INSERT INTO samples (key, series, entity, labels, ts, value)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def query(
        self,
        key: str | None = None,
        entity: str | None = None,
        start: float | None = None,
        end: float | None = None,
        limit: int = 1000,
    ) -> list[Sample]:
        """Return the newest ``limit`` samples matching, in [start, end], oldest first."""
        clause, params = where_clause(
            ("key = ?", key), ("entity = ?", entity), ("ts >= ?", start), ("ts <= ?", end)
        )
        sql = (
            "SELECT series, value, ts, entity, labels FROM ("
            f" SELECT rowid AS r, * FROM samples {clause} ORDER BY ts DESC, r DESC LIMIT ?"
            ") ORDER BY ts, r"
        )
        with self._db.read("query samples") as conn:
            return [_sample(row) for row in conn.execute(sql, [*params, max(limit, 0)])]

    def purge(self, before: float) -> int:
        """Delete samples older than ``before`` (retention); return how many went."""
        with self._db.write("purge samples") as conn:
            return conn.execute("DELETE FROM samples WHERE ts < ?", (before,)).rowcount


def _symptom(row: sqlite3.Row) -> Symptom:
    return Symptom(
        kind=row["kind"],
        entity=row["entity"],
        ts=row["ts"],
        state=SymptomState(row["state"]),
        severity=Severity(row["severity"]),
        evidence=object_from_json(row["evidence"]),
        id=row["id"],
        incident_id=row["incident_id"],
        clears=row["clears"],
    )


class SQLiteSymptoms:
    """Symptoms with their evidence in the ``symptoms`` table."""

    def __init__(self, db: SQLiteConnections) -> None:
        self._db = db

    def record(self, symptom: Symptom) -> None:
        """Store one symptom; a later one with its id replaces it (to set incident_id)."""
        row = (
            symptom.id,
            symptom.kind,
            symptom.entity,
            symptom.ts,
            symptom.state.value,
            symptom.severity.value,
            to_json(symptom.evidence),
            symptom.incident_id,
            symptom.clears,
        )
        with self._db.write("record symptom") as conn:
            conn.execute(
                "INSERT INTO symptoms"
                " (id, kind, entity, ts, state, severity, evidence, incident_id, clears)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,"
                " entity = excluded.entity, ts = excluded.ts, state = excluded.state,"
                " severity = excluded.severity, evidence = excluded.evidence,"
                " incident_id = excluded.incident_id, clears = excluded.clears",
                row,
            )

    def for_incident(self, incident_id: str) -> list[Symptom]:
        """Return the symptoms grouped into an incident, oldest first."""
        with self._db.read("symptoms of an incident") as conn:
            rows = conn.execute(
                "SELECT * FROM symptoms WHERE incident_id = ? ORDER BY ts, rowid", (incident_id,)
            )
            return [_symptom(row) for row in rows]

    def get(self, symptom_id: str) -> Symptom | None:
        """Return one symptom by id, or None."""
        with self._db.read("get symptom") as conn:
            row = conn.execute("SELECT * FROM symptoms WHERE id = ?", (symptom_id,)).fetchone()
            return None if row is None else _symptom(row)


def _incident(row: sqlite3.Row) -> Incident:
    return Incident(
        id=row["id"],
        entity=row["entity"],
        opened_at=row["opened_at"],
        status=IncidentStatus(row["status"]),
        kinds=tuple(list_from_json(row["kinds"])),
        resolved_at=row["resolved_at"],
        reason=row["reason"],
    )


class SQLiteIncidents:
    """Incidents in the ``incidents`` table; saved again as they change, never deleted."""

    def __init__(self, db: SQLiteConnections) -> None:
        self._db = db

    def save(self, incident: Incident) -> None:
        """Insert an incident or replace the one with its id."""
        row = (
            incident.id,
            incident.entity,
            incident.opened_at,
            incident.status.value,
            to_json(incident.kinds),
            incident.resolved_at,
            incident.reason,
        )
        with self._db.write("save incident") as conn:
            conn.execute(
                "INSERT INTO incidents (id, entity, opened_at, status, kinds, resolved_at, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET entity = excluded.entity,"
                " opened_at = excluded.opened_at, status = excluded.status,"
                " kinds = excluded.kinds, resolved_at = excluded.resolved_at,"
                " reason = excluded.reason",
                row,
            )

    def get(self, incident_id: str) -> Incident | None:
        """Return one incident by id, or None."""
        with self._db.read("get incident") as conn:
            row = conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            return None if row is None else _incident(row)

    def list(
        self, status: str | None = None, entity: str | None = None, limit: int = 100
    ) -> list[Incident]:
        """List incidents by status and entity, newest first."""
        clause, params = where_clause(("status = ?", status), ("entity = ?", entity))
        sql = f"SELECT * FROM incidents {clause} ORDER BY opened_at DESC, rowid DESC LIMIT ?"
        with self._db.read("list incidents") as conn:
            return [_incident(row) for row in conn.execute(sql, [*params, max(limit, 0)])]


class SQLiteAudit:
    """The append-only ``audit`` table; a trigger refuses every UPDATE."""

    def __init__(self, db: SQLiteConnections) -> None:
        self._db = db

    def append(self, entry: AuditEntry) -> None:
        """Add one entry at the end of the log."""
        row = (
            entry.ts,
            entry.actor,
            entry.event,
            entry.target,
            to_json(entry.detail),
            entry.decision_id,
        )
        with self._db.write("append audit") as conn:
            conn.execute(
                "INSERT INTO audit (ts, actor, event, target, detail, decision_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )

    def list(self, decision_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Return the newest ``limit`` entries (of one decision if given), oldest first."""
        clause, params = where_clause(("decision_id = ?", decision_id))
        sql = f"SELECT * FROM (SELECT * FROM audit {clause} ORDER BY seq DESC LIMIT ?) ORDER BY seq"
        with self._db.read("list audit") as conn:
            return [
                AuditEntry(
                    ts=row["ts"],
                    actor=row["actor"],
                    event=row["event"],
                    target=row["target"],
                    detail=object_from_json(row["detail"]),
                    decision_id=row["decision_id"],
                )
                for row in conn.execute(sql, [*params, max(limit, 0)])
            ]

    def purge(self, before: float) -> int:
        """Delete entries older than ``before`` (retention only); return how many went."""
        with self._db.write("purge audit") as conn:
            return conn.execute("DELETE FROM audit WHERE ts < ?", (before,)).rowcount


class SQLiteStore:
    """Everything setpoint knows, in one SQLite file; get an open one from :func:`open_store`.

    The constructor only stores its arguments; :meth:`open` touches the file.
    """

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = path
        self._clock = clock or SystemClock()
        self._db = SQLiteConnections(path)
        self.samples: SampleRepository = SQLiteSamples(self._db)
        self.symptoms: SymptomRepository = SQLiteSymptoms(self._db)
        self.incidents: IncidentRepository = SQLiteIncidents(self._db)
        self.decisions: DecisionRepository = SQLiteDecisions(self._db, self._clock)
        self.audit: AuditLog = SQLiteAudit(self._db)

    def open(self) -> None:
        """Check the file for corruption, switch it to WAL and bring its schema up to date."""
        conn = self._db.start()
        try:
            applied = apply_sqlite_migrations(conn, load_migrations("sqlite"), self._clock.time())
        except (sqlite3.Error, KnowledgeError) as exc:
            self._db.close(checkpoint=False)
            raise KnowledgeError(f"{self.path}: cannot migrate: {exc}") from exc
        if applied:
            logger.info("%s: applied migrations %s", self.path, applied)

    def close(self) -> None:
        """Checkpoint the WAL and close every connection the store opened."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_store(path: Path, clock: Clock | None = None) -> SQLiteStore:
    """Open the SQLite store at ``path``: checked, in WAL mode and migrated.

    A missing file is created. A file that is not a healthy SQLite database raises
    KnowledgeError naming it; nothing in it is changed or deleted.
    """
    store = SQLiteStore(path, clock)
    store.open()
    return store
