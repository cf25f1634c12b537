"""Hourly counters behind the decision analytics, kept in step with every outcome.

Reading a year of outcomes to answer ``success_rate`` or ``reward_trend`` takes about a
second; two small tables, written in the transaction that stores each outcome, answer
the same questions from one row per hour instead:

- ``decision_stats``: outcomes counted per (hour of the *decision*, action, status),
  because ``success_rate`` selects decisions by the time they were taken;
- ``reward_stats``: outcomes counted and their rewards summed per hour of the
  *outcome*, because ``reward_trend`` buckets by the time of the outcome.

An hour is ``floor(ts / 3600.0) * 3600``, the same SQL expression on every path. A
window [start, end] is split by that hour key into whole hours, served from the
counters, and at most two edges, read from the raw rows: rows whose hour lies before
the first whole hour, or from the end of the last one. Edges are chosen by the hour
key itself, a second clear of the window's ends, so every row in the window is counted
once whatever the rounding near an hour boundary. A bucket of whole hours groups whole
hours: IEEE division of a time by a whole number of seconds never rounds onto an
integer it does not reach, so ``floor(ts / bucket)`` puts each row where its hour goes.

So counts are exactly those of a query over raw rows. A mean is sum / count as before;
the sum adds the same rewards hour by hour (then the hours with ``math.fsum``) rather
than row by row, which gives the same number whenever the sums are exact in binary
floating point (the agent's rewards, 1, -0.5 and -1, always are) and may otherwise
differ in the last bits, as the raw query's own summation order is unspecified.

The counters are derived data: a restore rebuilds them from the restored outcomes
(:func:`rebuild`) rather than trusting a copy, and migration 0007 back-fills them with
the same statements.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from setpoint.knowledge.database import Connection, where_clause

HOUR = 3600.0
"""The width of one counter row, in seconds."""

MARGIN = 1.0
"""Seconds kept between a window's edge and the whole hours read from the counters."""

TABLES = ("decision_stats", "reward_stats")
"""The derived tables: never copied by backup, rebuilt by restore."""

_HOUR_OF_DECISION = "floor(d.ts / 3600.0) * 3600"
_HOUR_OF_OUTCOME = "floor(ts / 3600.0) * 3600"

_COUNT_OUTCOME = (
    f"INSERT INTO decision_stats (hour, action, status, n) SELECT {_HOUR_OF_DECISION},"
    " d.action, o.status, 1 FROM outcomes AS o JOIN decisions AS d ON d.id = o.decision_id"
    " WHERE o.decision_id = ?"
    " ON CONFLICT (hour, action, status) DO UPDATE SET n = decision_stats.n + 1"
)
_ADD_REWARD = (
    f"INSERT INTO reward_stats (hour, n, reward_sum) SELECT {_HOUR_OF_OUTCOME}, 1, reward"
    " FROM outcomes WHERE decision_id = ?"
    " ON CONFLICT (hour) DO UPDATE SET n = reward_stats.n + 1,"
    " reward_sum = reward_stats.reward_sum + excluded.reward_sum"
)
_REBUILD = (
    "DELETE FROM decision_stats",
    "DELETE FROM reward_stats",
    f"INSERT INTO decision_stats (hour, action, status, n) SELECT {_HOUR_OF_DECISION},"
    " d.action, o.status, count(*) FROM decisions AS d"
    " JOIN outcomes AS o ON o.decision_id = d.id GROUP BY 1, 2, 3",
    f"INSERT INTO reward_stats (hour, n, reward_sum) SELECT {_HOUR_OF_OUTCOME},"
    " count(*), sum(reward) FROM outcomes GROUP BY 1",
)

_RAW_SUCCESS = (
    "SELECT d.action, o.status, count(*) AS n FROM decisions AS d"
    " JOIN outcomes AS o ON o.decision_id = d.id"
)
_RAW_REWARD = "SELECT floor(ts / ?) AS bucket, sum(reward) AS total, count(*) AS n FROM outcomes"


def count_outcome(conn: Connection, decision_id: str) -> None:
    """Add the outcome just stored for ``decision_id`` to both counters (same transaction)."""
    conn.execute(_COUNT_OUTCOME, (decision_id,))
    conn.execute(_ADD_REWARD, (decision_id,))


def rebuild(conn: Connection) -> None:
    """Recompute both counters from every stored outcome, as migration 0007 first did."""
    for statement in _REBUILD:
        conn.execute(statement)


@dataclass(frozen=True, slots=True)
class Split:
    """How a time window divides between the counters and the raw rows.

    Hours ``first <= hour < stop`` come from the counters (an unbounded side is None);
    a row whose hour is before ``first`` or at or after ``stop`` is read raw, when its
    time is in the window.
    """

    start: float | None
    end: float | None
    first: float | None
    stop: float | None

    @classmethod
    def of(cls, start: float | None, end: float | None) -> Split | None:
        """Split [start, end]; None when it holds no whole hour to read from the counters.

        >>> Split.of(5000.0, 20000.0)
        Split(start=5000.0, end=20000.0, first=7200.0, stop=18000.0)
        >>> Split.of(None, 7200.0)
        Split(start=None, end=7200.0, first=None, stop=3600.0)
        >>> Split.of(7199.5, None).first  # a second of margin: 7200 is too close
        10800.0
        >>> Split.of(100.0, 3000.0) is None
        True
        """
        first = None if start is None else math.ceil((start + MARGIN) / HOUR) * HOUR
        stop = None if end is None else math.floor((end - MARGIN) / HOUR) * HOUR
        if first is not None and stop is not None and first >= stop:
            return None
        return cls(start, end, first, stop)

    def counted(self) -> tuple[str, list[object]]:
        """The WHERE clause on a counter's ``hour`` column selecting the whole hours."""
        return where_clause(("hour >= ?", self.first), ("hour < ?", self.stop))

    def edges(self, ts: str, hour: str) -> Iterator[tuple[str, list[object]]]:
        """WHERE clauses selecting each edge's raw rows, by time column ``ts`` and hour key.

        Each has a range on ``ts`` an index can serve and the exact test on the hour. A
        split holds a whole hour, so the first edge ends well before ``end`` and the
        second starts well after ``start``.
        """
        if self.start is not None and self.first is not None:
            yield where_clause(
                (f"{ts} >= ?", self.start),
                (f"{ts} < ?", self.first + MARGIN),
                (f"{hour} < ?", self.first),
            )
        if self.end is not None and self.stop is not None:
            yield where_clause(
                (f"{ts} <= ?", self.end),
                (f"{ts} >= ?", self.stop - MARGIN),
                (f"{hour} >= ?", self.stop),
            )


def success_counts(
    conn: Connection, start: float | None, end: float | None
) -> Sequence[tuple[str, str, int]]:
    """Outcomes per (action, status) of the decisions taken in [start, end], by action."""
    split = Split.of(start, end)
    if split is None:
        where, params = where_clause(("d.ts >= ?", start), ("d.ts <= ?", end))
        sql = f"{_RAW_SUCCESS} {where} GROUP BY d.action, o.status"
    else:
        counted, params = split.counted()
        parts = [f"SELECT action, status, n FROM decision_stats {counted}"]
        for condition, values in split.edges("d.ts", _HOUR_OF_DECISION):
            parts.append(f"{_RAW_SUCCESS} {condition} GROUP BY d.action, o.status")
            params += values
        sql = (
            "SELECT action, status, sum(n) AS n FROM ("
            + " UNION ALL ".join(parts)
            + ") AS parts GROUP BY action, status"
        )
    rows = conn.execute(f"{sql} ORDER BY action", params)
    return [(str(row["action"]), str(row["status"]), int(row["n"])) for row in rows]


def reward_sums(
    conn: Connection, bucket_seconds: float, start: float | None, end: float | None
) -> Sequence[tuple[float, float, int]]:
    """(bucket number, reward sum, count) of the outcomes in [start, end], oldest first.

    Buckets that are whole numbers of hours come from the counters; any other width
    reads the raw outcomes, as does a window too short to hold a whole hour. A bucket
    built from counters adds its hours' sums and its edge rewards with ``math.fsum``, so
    the result does not depend on the order the engine returns them in (which differs,
    for one thing, between a store and its restored copy).
    """
    split = Split.of(start, end)
    whole_hours = bucket_seconds >= HOUR and bucket_seconds % HOUR == 0
    if split is None or not whole_hours:
        where, params = where_clause(("ts >= ?", start), ("ts <= ?", end))
        sql = f"{_RAW_REWARD} {where} GROUP BY bucket ORDER BY bucket"
        rows = conn.execute(sql, [bucket_seconds, *params])
        return [(float(row["bucket"]), float(row["total"]), int(row["n"])) for row in rows]
    counted, params = split.counted()
    parts = [
        f"SELECT floor(hour / ?) AS bucket, reward_sum AS total, n FROM reward_stats {counted}"
    ]
    params = [bucket_seconds, *params]
    for condition, values in split.edges("ts", _HOUR_OF_OUTCOME):
        parts.append(
            f"SELECT floor(ts / ?) AS bucket, reward AS total, 1 AS n FROM outcomes {condition}"
        )
        params += [bucket_seconds, *values]
    totals: dict[float, list[float]] = {}
    counts: dict[float, int] = {}
    for row in conn.execute(" UNION ALL ".join(parts), params):
        bucket = float(row["bucket"])
        totals.setdefault(bucket, []).append(float(row["total"]))
        counts[bucket] = counts.get(bucket, 0) + int(row["n"])
    return [(bucket, math.fsum(totals[bucket]), counts[bucket]) for bucket in sorted(totals)]
