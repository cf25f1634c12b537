"""OOM predictions and predictor settings, as portable SQL with ``?`` placeholders."""

from __future__ import annotations

import builtins

from setpoint.knowledge.database import Database, Row
from setpoint.knowledge.json_columns import object_from_json, to_json
from setpoint.knowledge.predictions import Prediction, PredictionAccuracy, PredictionOutcome

_COLUMNS = (
    "id, ts, entity, domain, risk, confidence, eta, eta_low, eta_high, deadline,"
    " outcome, outcome_ts, evidence"
)


def _prediction(row: Row) -> Prediction:
    return Prediction(
        id=row["id"],
        ts=row["ts"],
        entity=row["entity"],
        domain=row["domain"],
        risk=row["risk"],
        confidence=row["confidence"],
        eta=row["eta"],
        eta_low=row["eta_low"],
        eta_high=row["eta_high"],
        deadline=row["deadline"],
        outcome=PredictionOutcome(row["outcome"]),
        outcome_ts=row["outcome_ts"],
        evidence=object_from_json(row["evidence"]),
    )


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


class Predictions:
    """The ``predictions`` and ``predictor_settings`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, prediction: Prediction) -> None:
        """Insert a prediction, or replace the stored one with its id."""
        p = prediction
        row = (
            p.id,
            p.ts,
            p.entity,
            p.domain,
            p.risk,
            p.confidence,
            p.eta,
            p.eta_low,
            p.eta_high,
            p.deadline,
            p.outcome.value,
            p.outcome_ts,
            to_json(p.evidence),
        )
        with self._db.write("save prediction") as conn:
            conn.execute(
                f"INSERT INTO predictions ({_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome,"
                " outcome_ts = excluded.outcome_ts, risk = excluded.risk,"
                " confidence = excluded.confidence, evidence = excluded.evidence",
                row,
            )

    def list(self, limit: int = 20) -> list[Prediction]:
        """The newest ``limit`` predictions, newest first."""
        with self._db.read("list predictions") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM predictions ORDER BY ts DESC, id LIMIT ?",
                (max(limit, 0),),
            )
            return [_prediction(r) for r in rows]

    def pending(self) -> builtins.list[Prediction]:
        """Predictions not settled yet, oldest first."""
        with self._db.read("pending predictions") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM predictions WHERE outcome = ? ORDER BY ts, id",
                (PredictionOutcome.PENDING.value,),
            )
            return [_prediction(r) for r in rows]

    def accuracy(self) -> PredictionAccuracy:
        """Count the outcomes (see :class:`PredictionAccuracy`)."""
        with self._db.read("prediction accuracy") as conn:
            rows = conn.execute("SELECT outcome, COUNT(*) AS n FROM predictions GROUP BY outcome")
            n = {r["outcome"]: int(r["n"]) for r in rows}
        confirmed, averted = n.get("confirmed", 0), n.get("averted", 0)
        false_alarms, unpredicted = n.get("false_alarm", 0), n.get("unpredicted", 0)
        return PredictionAccuracy(
            confirmed=confirmed,
            averted=averted,
            false_alarms=false_alarms,
            unpredicted=unpredicted,
            pending=n.get("pending", 0),
            precision=_share(confirmed, confirmed + false_alarms),
            recall=_share(confirmed + averted, confirmed + averted + unpredicted),
        )

    def get_setting(self, name: str) -> str | None:
        """A setting's value, or None."""
        with self._db.read("get predictor setting") as conn:
            row = conn.execute(
                "SELECT value FROM predictor_settings WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else str(row["value"])

    def set_setting(self, name: str, value: str, ts: float) -> None:
        """Store a setting (replacing its value)."""
        with self._db.write("set predictor setting") as conn:
            conn.execute(
                "INSERT INTO predictor_settings (name, value, ts) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value, ts = excluded.ts",
                (name, value, ts),
            )
