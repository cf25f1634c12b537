"""Symptoms, firing and cleared, with their evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from setpoint.knowledge.database import Database
from setpoint.knowledge.json_columns import object_from_json, to_json
from setpoint.model import Severity, Symptom, SymptomState


def _symptom(row: Mapping[str, Any]) -> Symptom:
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


class Symptoms:
    """Symptoms with their evidence in the ``symptoms`` table."""

    def __init__(self, db: Database) -> None:
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
        """Return the symptoms grouped into an incident, oldest first (by time, then id)."""
        with self._db.read("symptoms of an incident") as conn:
            rows = conn.execute(
                "SELECT * FROM symptoms WHERE incident_id = ? ORDER BY ts, id", (incident_id,)
            )
            return [_symptom(row) for row in rows]

    def get(self, symptom_id: str) -> Symptom | None:
        """Return one symptom by id, or None."""
        with self._db.read("get symptom") as conn:
            row = conn.execute("SELECT * FROM symptoms WHERE id = ?", (symptom_id,)).fetchone()
            return None if row is None else _symptom(row)
