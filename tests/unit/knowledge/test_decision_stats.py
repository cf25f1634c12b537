"""How a window splits between whole hours of counters and raw edges: every row once."""

from __future__ import annotations

import math
import random

from setpoint.knowledge.repositories.decision_stats import HOUR, MARGIN, Split


def hour_of(ts: float) -> float:
    """The hour key, as the SQL ``floor(ts / 3600.0) * 3600`` computes it."""
    return math.floor(ts / 3600.0) * 3600


def near_boundaries(rng: random.Random, count: int) -> list[float]:
    """Times on, a rounding step beside, and around hour boundaries of today's epoch."""
    found: list[float] = []
    for _ in range(count):
        boundary = HOUR * rng.randrange(470_000, 470_100)
        found += [boundary, math.nextafter(boundary, 0.0), math.nextafter(boundary, math.inf)]
        found += [boundary + rng.uniform(-2.0, 2.0), boundary + rng.uniform(0.0, HOUR)]
    return found


def side(split: Split, ts: float) -> str | None:
    """Where a row at ``ts`` is read from: the counters, an edge, or nowhere."""
    hour = hour_of(ts)
    counted = (split.first is None or hour >= split.first) and (
        split.stop is None or hour < split.stop
    )
    if counted:
        return "counters"
    if split.first is not None and split.start is not None and hour < split.first:
        in_edge = split.start <= ts < split.first + MARGIN
        return "start edge" if in_edge else None
    if split.stop is not None and split.end is not None:
        in_edge = split.stop - MARGIN <= ts <= split.end
        return "end edge" if in_edge else None
    return None


def test_every_row_in_the_window_is_read_once_and_no_other() -> None:
    rng = random.Random(1)
    times = near_boundaries(rng, 200)
    checked = 0
    for _ in range(300):
        start: float | None = rng.choice(times)
        end: float | None = rng.choice(times)
        if start is not None and end is not None and start > end:
            start, end = end, start
        if rng.random() < 0.2:
            start = None
        elif rng.random() < 0.2:
            end = None
        split = Split.of(start, end)
        if split is None:
            continue
        for ts in times:
            inside = (start is None or ts >= start) and (end is None or ts <= end)
            assert (side(split, ts) is not None) == inside, (start, end, ts)
            checked += 1
    assert checked > 100_000


def test_windows_without_a_whole_hour_are_not_split() -> None:
    assert Split.of(3600.0, 7200.0) is None  # each edge is within a second of the hour
    assert Split.of(3599.5, 7201.0) is None
    assert Split.of(3599.0, 7201.0) == Split(3599.0, 7201.0, 3600.0, 7200.0)
    assert Split.of(None, None) == Split(None, None, None, None)
