"""Approvals in the ``approvals`` table, written as portable SQL with ``?`` placeholders."""

from __future__ import annotations

import builtins

from setpoint.knowledge.database import Database, Row, where_clause
from setpoint.model import Approval, ApprovalStatus

_PENDING = ApprovalStatus.PENDING.value


def _approval(row: Row) -> Approval:
    return Approval(
        decision_id=row["decision_id"],
        requested_at=row["requested_at"],
        expires_at=row["expires_at"],
        action=row["action"],
        target=row["target"],
        preview=row["preview"],
        status=ApprovalStatus(row["status"]),
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        note=row["note"],
    )


class Approvals:
    """Pending approvals and what became of them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def request(self, approval: Approval) -> None:
        """Store a new approval; its decision must be stored already."""
        row = (
            approval.decision_id,
            approval.requested_at,
            approval.expires_at,
            approval.action,
            approval.target,
            approval.preview,
            approval.status.value,
            approval.decided_at,
            approval.decided_by,
            approval.note,
        )
        with self._db.write("request approval") as conn:
            conn.execute(
                "INSERT INTO approvals (decision_id, requested_at, expires_at, action, target,"
                " preview, status, decided_at, decided_by, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def get(self, decision_id: str) -> Approval | None:
        """Return one approval by its decision's id, or None."""
        with self._db.read("get approval") as conn:
            row = conn.execute(
                "SELECT * FROM approvals WHERE decision_id = ?", (decision_id,)
            ).fetchone()
            return None if row is None else _approval(row)

    def list(self, status: ApprovalStatus | None = None, limit: int = 100) -> list[Approval]:
        """List approvals, newest request first."""
        clause, params = where_clause(("status = ?", None if status is None else status.value))
        sql = f"SELECT * FROM approvals {clause} ORDER BY requested_at DESC, decision_id LIMIT ?"
        with self._db.read("list approvals") as conn:
            return [_approval(row) for row in conn.execute(sql, [*params, max(limit, 0)])]

    def decide(
        self,
        decision_id: str,
        status: ApprovalStatus,
        at: float,
        by: str,
        note: str = "",
    ) -> Approval | None:
        """Move a pending approval whose time is not up to ``status``, in one statement."""
        with self._db.write("decide approval") as conn:
            changed = conn.execute(
                "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, note = ?"
                " WHERE decision_id = ? AND status = ? AND expires_at > ?",
                (status.value, at, by, note, decision_id, _PENDING, at),
            ).rowcount
            if changed != 1:
                return None
            row = conn.execute(
                "SELECT * FROM approvals WHERE decision_id = ?", (decision_id,)
            ).fetchone()
            return _approval(row)

    def expire(self, now: float) -> builtins.list[Approval]:
        """Mark pending approvals with ``expires_at <= now`` expired, in one transaction."""
        with self._db.write("expire approvals") as conn:
            due = [
                row["decision_id"]
                for row in conn.execute(
                    "SELECT decision_id FROM approvals WHERE status = ? AND expires_at <= ?",
                    (_PENDING, now),
                )
            ]
            expired = []
            for decision_id in due:
                conn.execute(
                    "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?"
                    " WHERE decision_id = ? AND status = ?",
                    (ApprovalStatus.EXPIRED.value, now, "expiry", decision_id, _PENDING),
                )
                row = conn.execute(
                    "SELECT * FROM approvals WHERE decision_id = ?", (decision_id,)
                ).fetchone()
                expired.append(_approval(row))
            return expired
