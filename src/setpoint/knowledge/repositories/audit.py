"""The append-only audit log: every verdict, refusal, action and rollback."""

from __future__ import annotations

from setpoint.knowledge.database import Database, where_clause
from setpoint.knowledge.json_columns import object_from_json, to_json
from setpoint.model import AuditEntry


class Audit:
    """The ``audit`` table, ordered by its ``seq`` column; the database refuses UPDATEs."""

    def __init__(self, db: Database) -> None:
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
        sql = (
            f"SELECT * FROM (SELECT * FROM audit {clause} ORDER BY seq DESC LIMIT ?)"
            " AS newest ORDER BY seq"
        )
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
