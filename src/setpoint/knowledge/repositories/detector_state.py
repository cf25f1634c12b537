"""Learned detector state, one row per detector name, as portable SQL."""

from __future__ import annotations

from setpoint.knowledge.database import Database
from setpoint.knowledge.detector_state import StoredState


class DetectorStates:
    """The ``detector_state`` table: the newest snapshot of each detector."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, name: str, version: int, state: bytes, saved_at: float) -> None:
        """Insert the snapshot of ``name`` or replace the stored one."""
        with self._db.write("save detector state") as conn:
            conn.execute(
                "INSERT INTO detector_state (name, version, state, saved_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET version = excluded.version,"
                " state = excluded.state, saved_at = excluded.saved_at",
                (name, version, state, saved_at),
            )

    def load(self, name: str) -> StoredState | None:
        """The snapshot of ``name``, or None."""
        with self._db.read("load detector state") as conn:
            row = conn.execute(
                "SELECT version, state, saved_at FROM detector_state WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            return None
        return StoredState(name, int(row["version"]), bytes(row["state"]), float(row["saved_at"]))

    def delete(self, name: str) -> bool:
        """Delete the snapshot of ``name``; whether there was one."""
        with self._db.write("delete detector state") as conn:
            return conn.execute("DELETE FROM detector_state WHERE name = ?", (name,)).rowcount > 0
