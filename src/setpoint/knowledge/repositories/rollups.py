"""Hourly roll-ups of samples: min, max, sum and count per series per clock hour.

``rollup_marks`` holds how far the roll-up has got: every hour before
``rolled_until`` is done (no row yet: none is). Each hour is read outside the write
lock and written, together with the new mark, in one short transaction; the mark only
moves forward from the value it was read at, so two processes rolling up at once
never count an hour twice.
Samples that arrive for an hour already rolled up stay in ``samples`` but are not
added to the roll-up.
"""

from __future__ import annotations

import math

from setpoint.knowledge.database import Database

HOUR = 3600.0
MARK = "samples_hourly"

_AGGREGATE = """
SELECT key, series, entity, labels,
       min(value) AS min_value, max(value) AS max_value, sum(value) AS sum_value,
       count(*) AS n
FROM samples WHERE ts >= ? AND ts < ?
GROUP BY key, series, entity, labels
"""


def rolled_until(db: Database) -> float:
    """The time before which every hour is rolled up."""
    with db.read("read the roll-up mark") as conn:
        row = conn.execute("SELECT rolled_until FROM rollup_marks WHERE name = ?", (MARK,))
        found = row.fetchone()
    return 0.0 if found is None else float(found["rolled_until"])


def _first_sample_since(db: Database, since: float) -> float | None:
    with db.read("find samples to roll up") as conn:
        row = conn.execute("SELECT min(ts) AS first FROM samples WHERE ts >= ?", (since,))
        first = row.fetchone()["first"]
    return None if first is None else float(first)


def _advance(db: Database, mark: float, hour: float | None, new_mark: float) -> bool:
    """Write the roll-up of ``hour`` (if any) and move the mark; False if another did it."""
    rows = []
    if hour is not None:
        with db.read("aggregate one hour of samples") as conn:
            rows = [
                [r["key"], r["series"], r["entity"], r["labels"], hour]
                + [r[c] for c in ("min_value", "max_value", "sum_value", "n")]
                for r in conn.execute(_AGGREGATE, (hour, hour + HOUR))
            ]
    with db.write("store hourly roll-ups") as conn:
        moved = conn.execute(
            "INSERT INTO rollup_marks (name, rolled_until) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET rolled_until = excluded.rolled_until"
            " WHERE rollup_marks.rolled_until = ?",
            (MARK, new_mark, mark),
        ).rowcount
        if moved == 1 and rows:
            conn.executemany(
                "INSERT INTO samples_hourly (key, series, entity, labels, hour,"
                " min_value, max_value, sum_value, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    return moved == 1


def roll_up(db: Database, now: float) -> int:
    """Roll up every hour that ended by ``now`` and is not rolled up yet; return how many.

    Hours without samples are skipped without a transaction of their own.
    """
    end = math.floor(now / HOUR) * HOUR
    done = 0
    while True:
        mark = rolled_until(db)
        if mark >= end:
            return done
        first = _first_sample_since(db, mark)
        if first is None or first >= end:
            _advance(db, mark, None, end)
            return done
        hour = math.floor(first / HOUR) * HOUR
        if _advance(db, mark, hour, hour + HOUR):
            done += 1


def purge_hourly(db: Database, before: float) -> int:
    """Delete the roll-ups of hours that started before ``before``, one hour per transaction."""
    total = 0
    while True:
        with db.write("purge hourly roll-ups") as conn:
            deleted = conn.execute(
                "DELETE FROM samples_hourly WHERE hour ="
                " (SELECT min(hour) FROM samples_hourly WHERE hour < ?)",
                (before,),
            ).rowcount
        if deleted == 0:
            return total
        total += deleted
