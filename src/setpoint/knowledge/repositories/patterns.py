"""Patterns and their confidence in the ``patterns`` table, for every backend.

Counts are added by one ``UPDATE ... SET successes = successes + ?`` so two writers
never lose an outcome; the JSON context (the incidents a pattern was seen in) is
rewritten in the same transaction, after that UPDATE has locked the row.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from setpoint.knowledge.database import Connection, Database, where_clause
from setpoint.knowledge.json_columns import list_from_json, object_from_json, to_json
from setpoint.knowledge.patterns import MAX_CONTEXTS, Evidence, Pattern

_COLUMNS = (
    "id, type, signature, context, metric_conditions, actions,"
    " successes, failures, confidence, last_seen"
)
_INSERT = f"INSERT INTO patterns ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UPSERT = (
    _INSERT
    + " ON CONFLICT (id) DO UPDATE SET type = excluded.type, signature = excluded.signature,"
    " context = excluded.context, metric_conditions = excluded.metric_conditions,"
    " actions = excluded.actions, successes = excluded.successes,"
    " failures = excluded.failures, confidence = excluded.confidence,"
    " last_seen = excluded.last_seen"
)
_ADD = (
    "UPDATE patterns SET successes = successes + ?, failures = failures + ?,"
    " confidence = (successes + ? + 1.0) / (successes + failures + ? + 2.0),"
    " last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END"
    " WHERE id = ?"
)


def _row(p: Pattern) -> tuple[Any, ...]:
    return (
        p.id,
        p.type,
        p.signature,
        to_json(p.context),
        to_json(p.metric_conditions),
        to_json(p.actions),
        p.successes,
        p.failures,
        p.confidence,
        p.last_seen,
    )


def _pattern(row: Mapping[str, Any]) -> Pattern:
    return Pattern(
        id=row["id"],
        type=row["type"],
        context=object_from_json(row["context"]),
        metric_conditions=object_from_json(row["metric_conditions"]),
        actions=list_from_json(row["actions"]),
        confidence=row["confidence"],
        last_seen=row["last_seen"],
        successes=row["successes"],
        failures=row["failures"],
    )


def _select(conn: Connection, pattern_id: str) -> Pattern | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM patterns WHERE id = ?", (pattern_id,)).fetchone()
    return None if row is None else _pattern(row)


class Patterns:
    """The ``patterns`` table: one row per (incident signature, remediation)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, patterns: Sequence[Pattern]) -> None:
        """Insert the patterns or replace those with their ids, all in one transaction."""
        if not patterns:
            return
        with self._db.write("save patterns") as conn:
            conn.executemany(_UPSERT, [_row(p) for p in patterns])

    def get(self, pattern_id: str) -> Pattern | None:
        """One pattern by id, or None."""
        with self._db.read("get pattern") as conn:
            return _select(conn, pattern_id)

    def list(self, sig: str | None = None, type: str | None = None) -> builtins.list[Pattern]:
        """Patterns (of one signature, of one type), by signature then id."""
        clause, params = where_clause(("signature = ?", sig), ("type = ?", type))
        sql = f"SELECT {_COLUMNS} FROM patterns {clause} ORDER BY signature, id"
        with self._db.read("list patterns") as conn:
            return [_pattern(row) for row in conn.execute(sql, params)]

    def update_confidence(self, pattern_id: str, evidence: Evidence) -> Pattern | None:
        """Add verified outcomes to a pattern and recompute its confidence, atomically."""
        s, f, seen = evidence.successes, evidence.failures, evidence.seen_at
        with self._db.write("update pattern confidence") as conn:
            changed = conn.execute(_ADD, (s, f, s, s + f, seen, seen, pattern_id)).rowcount
            if not changed:
                if evidence.template is None:
                    return None
                template = evidence.template
                conn.execute(
                    _INSERT + " ON CONFLICT (id) DO NOTHING",
                    (*_row(template)[:6], 0.0, 0.0, template.confidence, seen),
                )
                conn.execute(_ADD, (s, f, s, s + f, seen, seen, pattern_id))
            pattern = _select(conn, pattern_id)
            if pattern is None or evidence.incident is None:
                return pattern
            seen_in = [i for i in pattern.contexts if i != evidence.incident]
            seen_in = [*seen_in, evidence.incident][-MAX_CONTEXTS:]
            context = {**pattern.context, "incidents": seen_in}
            conn.execute(
                "UPDATE patterns SET context = ? WHERE id = ?", (to_json(context), pattern_id)
            )
            return _select(conn, pattern_id)

    def merge(self, into: Pattern, remove: Sequence[str]) -> None:
        """Store ``into`` and delete the patterns ``remove`` in one transaction."""
        with self._db.write("merge patterns") as conn:
            conn.executemany(
                "DELETE FROM patterns WHERE id = ?", [(i,) for i in remove if i != into.id]
            )
            conn.execute(_UPSERT, _row(into))

    def expire(self, before: float) -> int:
        """Delete the patterns last seen before ``before``; return how many went."""
        with self._db.write("expire patterns") as conn:
            return conn.execute("DELETE FROM patterns WHERE last_seen < ?", (before,)).rowcount
