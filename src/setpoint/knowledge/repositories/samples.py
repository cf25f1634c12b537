"""Time series readings: detailed samples, their hourly roll-ups and retention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from setpoint.knowledge.base import HourlyRollup, RetentionRun
from setpoint.knowledge.database import Database, where_clause
from setpoint.knowledge.json_columns import object_from_json, to_json
from setpoint.knowledge.repositories import rollups
from setpoint.model import Sample

PURGE_BATCH = 10_000
"""Rows deleted per transaction, so a purge never holds the write lock for long."""


def _labels(text: str) -> dict[str, Any]:
    return {} if text == "{}" else object_from_json(text)


def _sample(row: Mapping[str, Any]) -> Sample:
    return Sample(row["series"], row["value"], row["ts"], row["entity"], _labels(row["labels"]))


class Samples:
    """Time series readings in ``samples``, rolled up per hour into ``samples_hourly``."""

    def __init__(self, db: Database) -> None:
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
        """Return the newest ``limit`` samples matching, in [start, end], oldest first.

        Given a key, the key's index finds the rows and the entity only filters them:
        ``entity || ''`` keeps SQLite from reading the entity's index instead, which holds
        every series of the entity.
        """
        entity_test = "entity || '' = ?" if key is not None else "entity = ?"
        clause, params = where_clause(
            ("key = ?", key), (entity_test, entity), ("ts >= ?", start), ("ts <= ?", end)
        )
        sql = (
            "SELECT series, value, ts, entity, labels FROM ("
            " SELECT seq, series, value, ts, entity, labels FROM samples"
            f" {clause} ORDER BY ts DESC, seq DESC LIMIT ?"
            ") AS newest ORDER BY ts, seq"
        )
        with self._db.read("query samples") as conn:
            return [_sample(row) for row in conn.execute(sql, [*params, max(limit, 0)])]

    def purge(self, before: float) -> int:
        """Delete samples older than ``before``, in batches; return how many went."""
        total = 0
        while True:
            with self._db.write("purge samples") as conn:
                deleted = conn.execute(
                    "DELETE FROM samples WHERE seq IN"
                    " (SELECT seq FROM samples WHERE ts < ? LIMIT ?)",
                    (before, PURGE_BATCH),
                ).rowcount
            total += deleted
            if deleted < PURGE_BATCH:
                return total

    def retain(self, now: float, keep_samples: float, keep_hourly: float) -> RetentionRun:
        """Roll up finished hours, then delete samples and roll-ups past their retention.

        A sample is deleted only once its hour is rolled up, so nothing is lost when a
        roll-up fails or falls behind.
        """
        hours = rollups.roll_up(self._db, now)
        rolled_until = rollups.rolled_until(self._db)
        purged = self.purge(min(now - keep_samples, rolled_until))
        return RetentionRun(hours, purged, rollups.purge_hourly(self._db, now - keep_hourly))

    def hourly(
        self,
        key: str,
        start: float | None = None,
        end: float | None = None,
        entity: str | None = None,
    ) -> list[HourlyRollup]:
        """The roll-ups of series ``key`` whose hour starts in [start, end], oldest first.

        Of every entity that has the series, or of ``entity`` only.
        """
        clause, params = where_clause(
            ("key = ?", key), ("entity = ?", entity), ("hour >= ?", start), ("hour <= ?", end)
        )
        sql = f"SELECT * FROM samples_hourly {clause} ORDER BY hour, entity"
        with self._db.read("query hourly roll-ups") as conn:
            return [
                HourlyRollup(
                    key=row["key"],
                    series=row["series"],
                    entity=row["entity"],
                    labels=_labels(row["labels"]),
                    hour=float(row["hour"]),
                    min=float(row["min_value"]),
                    max=float(row["max_value"]),
                    avg=float(row["sum_value"]) / int(row["count"]),
                    count=int(row["count"]),
                )
                for row in conn.execute(sql, params)
            ]
