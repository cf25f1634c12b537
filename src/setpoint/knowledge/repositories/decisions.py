"""Decisions, their outcomes and human feedback, and the analytics over them.

A decision and its outcome are two rows in two tables; neither is rewritten into the
other. Records are read through the ``hcl_decisions`` view, so the seed's field set is
defined once, in the migration. The analytics read hourly counters that each outcome
write keeps up to date (:mod:`~setpoint.knowledge.repositories.decision_stats`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from setpoint.clock import Clock
from setpoint.knowledge.base import DecisionFilter, DecisionRecord, RewardPoint, SuccessRate
from setpoint.knowledge.database import Database, where_clause
from setpoint.knowledge.json_columns import list_from_json, object_from_json, to_json
from setpoint.knowledge.repositories import decision_stats
from setpoint.model import Decision, Outcome, OutcomeStatus

_SELECT_RECORDS = """
SELECT v.id, v."timestamp", v."trigger", v.operational_mode, v.actions_taken,
       v.state_before, v.state_after, v.outcome, v.reward_signal, v.human_feedback,
       d.entity, d.incident_id, d.symptom_id, d.playbook, d.action, d.target,
       d.gate_mode, d.verdict, d.verdict_reason, d.preview,
       o.detail AS outcome_detail, o.ts AS outcome_ts
FROM hcl_decisions AS v
JOIN decisions AS d ON d.id = v.id
LEFT JOIN outcomes AS o ON o.decision_id = v.id
"""


_ANY = DecisionFilter()


def _optional_object(text: str | None) -> dict[str, Any] | None:
    return None if text is None else object_from_json(text)


def _record(row: Mapping[str, Any]) -> DecisionRecord:
    return DecisionRecord(
        id=row["id"],
        timestamp=row["timestamp"],
        trigger=row["trigger"],
        operational_mode=row["operational_mode"],
        actions_taken=list_from_json(row["actions_taken"]),
        state_before=object_from_json(row["state_before"]),
        state_after=_optional_object(row["state_after"]),
        outcome=row["outcome"],
        reward_signal=row["reward_signal"],
        human_feedback=_optional_object(row["human_feedback"]),
        entity=row["entity"],
        incident_id=row["incident_id"],
        symptom_id=row["symptom_id"],
        playbook=row["playbook"],
        action=row["action"],
        target=row["target"],
        gate_mode=row["gate_mode"],
        verdict=row["verdict"],
        verdict_reason=row["verdict_reason"],
        preview=row["preview"],
        outcome_detail=row["outcome_detail"],
        outcome_ts=row["outcome_ts"],
    )


def _counts(counts: Mapping[OutcomeStatus, int]) -> dict[str, float | int | None]:
    total = sum(counts.values())
    success = counts[OutcomeStatus.SUCCESS]
    return {
        "total": total,
        "success": success,
        "partial": counts[OutcomeStatus.PARTIAL],
        "failed": counts[OutcomeStatus.FAILED],
        "rate": success / total if total else None,
    }


class Decisions:
    """Decisions with outcomes and feedback, and success and reward analytics."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def record(self, decision: Decision) -> None:
        """Store a decision before anything is applied; an id already stored is an error."""
        row = (
            decision.id,
            decision.ts,
            decision.trigger,
            decision.entity,
            decision.incident_id,
            decision.symptom_id,
            decision.playbook,
            decision.action,
            decision.target,
            to_json(decision.params),
            decision.verdict.mode.value,
            decision.verdict.status.value,
            decision.verdict.reason,
            decision.operational_mode.value,
            decision.preview,
            to_json(decision.state_before),
        )
        with self._db.write("record decision") as conn:
            conn.execute(
                'INSERT INTO decisions (id, ts, "trigger", entity, incident_id, symptom_id,'
                " playbook, action, target, params, gate_mode, verdict, verdict_reason,"
                " operational_mode, preview, state_before)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def record_outcome(self, outcome: Outcome) -> None:
        """Store what happened after a decision; once per decision, for a stored decision.

        The analytics counters take the outcome in the same transaction, so they never
        disagree with the outcomes stored.
        """
        row = (
            outcome.decision_id,
            outcome.ts,
            outcome.status.value,
            to_json(outcome.state_after),
            outcome.reward,
            outcome.detail,
        )
        with self._db.write("record outcome") as conn:
            conn.execute(
                "INSERT INTO outcomes (decision_id, ts, status, state_after, reward, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            decision_stats.count_outcome(conn, outcome.decision_id)

    def add_feedback(self, decision_id: str, feedback: Mapping[str, Any]) -> bool:
        """Attach or replace human feedback; False when no such decision exists."""
        body = to_json(feedback)
        with self._db.write("add feedback") as conn:
            known = conn.execute("SELECT 1 FROM decisions WHERE id = ?", (decision_id,))
            if known.fetchone() is None:
                return False
            conn.execute(
                "INSERT INTO feedback (decision_id, ts, body) VALUES (?, ?, ?)"
                " ON CONFLICT (decision_id) DO UPDATE SET ts = excluded.ts, body = excluded.body",
                (decision_id, self._clock.time(), body),
            )
            return True

    def get(self, decision_id: str) -> DecisionRecord | None:
        """Return one decision with its outcome and feedback, or None."""
        with self._db.read("get decision") as conn:
            row = conn.execute(_SELECT_RECORDS + " WHERE d.id = ?", (decision_id,)).fetchone()
            return None if row is None else _record(row)

    def success_rate(
        self, start_time: float | None = None, end_time: float | None = None
    ) -> SuccessRate:
        """Count the outcomes of the decisions taken in [start_time, end_time].

        ``rate`` is success / total, None when no decision has an outcome yet.
        """
        per_action: dict[str, dict[OutcomeStatus, int]] = {}
        with self._db.read("success rate") as conn:
            for action, status, n in decision_stats.success_counts(conn, start_time, end_time):
                counts = per_action.setdefault(action, dict.fromkeys(OutcomeStatus, 0))
                counts[OutcomeStatus(status)] = n
        totals = {s: sum(c[s] for c in per_action.values()) for s in OutcomeStatus}
        total = sum(totals.values())
        return SuccessRate(
            total=total,
            success=totals[OutcomeStatus.SUCCESS],
            partial=totals[OutcomeStatus.PARTIAL],
            failed=totals[OutcomeStatus.FAILED],
            rate=totals[OutcomeStatus.SUCCESS] / total if total else None,
            by_action={action: _counts(counts) for action, counts in per_action.items()},
        )

    def reward_trend(
        self,
        bucket_seconds: float = 3600.0,
        start_time: float | None = None,
        end_time: float | None = None,
    ) -> list[RewardPoint]:
        """Average the reward of outcomes per bucket of outcome time, oldest first.

        A bucket starts at a multiple of ``bucket_seconds``; empty buckets are left out.
        """
        if not bucket_seconds > 0:
            raise ValueError(f"bucket_seconds must be > 0, not {bucket_seconds}")
        with self._db.read("reward trend") as conn:
            sums = decision_stats.reward_sums(conn, bucket_seconds, start_time, end_time)
        return [
            RewardPoint(bucket_start=bucket * bucket_seconds, mean_reward=total / n, count=n)
            for bucket, total, n in sums
        ]

    def list(self, where: DecisionFilter = _ANY) -> list[DecisionRecord]:
        """List the decisions matching the filter, newest first (by time, then id).

        ``mode`` and ``outcome`` match regardless of case, so ``balanced`` finds
        BALANCED decisions and ``success`` finds SUCCESS ones.
        """
        mode = None if where.mode is None else (where.mode.lower(), where.mode.upper())
        clause, params = where_clause(
            ("(d.gate_mode = ? OR d.operational_mode = ?)", mode),
            # EXISTS, not a filter on the joined row, so both engines walk decisions
            # newest first by index and stop at the limit instead of sorting matches.
            (
                "EXISTS (SELECT 1 FROM outcomes AS x WHERE x.decision_id = d.id AND x.status = ?)",
                None if where.outcome is None else where.outcome.upper(),
            ),
            ("d.ts >= ?", where.start_time),
            ("d.ts <= ?", where.end_time),
            ("d.entity = ?", where.entity),
            ("d.incident_id = ?", where.incident_id),
        )
        sql = f"{_SELECT_RECORDS} {clause} ORDER BY d.ts DESC, d.id DESC LIMIT ?"
        with self._db.read("list decisions") as conn:
            return [_record(row) for row in conn.execute(sql, [*params, max(where.limit, 0)])]
