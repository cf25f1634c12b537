"""Incidents: opened, updated, resolved; never deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from setpoint.knowledge.database import Database, where_clause
from setpoint.knowledge.json_columns import list_from_json, to_json
from setpoint.model import Incident, IncidentStatus


def _incident(row: Mapping[str, Any]) -> Incident:
    return Incident(
        id=row["id"],
        entity=row["entity"],
        opened_at=row["opened_at"],
        status=IncidentStatus(row["status"]),
        kinds=tuple(list_from_json(row["kinds"])),
        resolved_at=row["resolved_at"],
        reason=row["reason"],
    )


class Incidents:
    """Incidents in the ``incidents`` table; saved again as they change, never deleted."""

    def __init__(self, db: Database) -> None:
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
        """List incidents by status and entity, newest first (by opening time, then id)."""
        clause, params = where_clause(("status = ?", status), ("entity = ?", entity))
        sql = f"SELECT * FROM incidents {clause} ORDER BY opened_at DESC, id DESC LIMIT ?"
        with self._db.read("list incidents") as conn:
            return [_incident(row) for row in conn.execute(sql, [*params, max(limit, 0)])]
