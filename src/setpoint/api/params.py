"""Parameter types of the HTTP API: instants, bucket widths and decision modes.

They are plain pydantic annotations, so the command line parses ``--since`` and
``--mode`` with the same rules the API applies to ``start_time`` and ``mode``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from setpoint.config.durations import parse_duration
from setpoint.model import GateMode, OperationalMode

MODES: tuple[str, ...] = tuple(m.value for m in (*GateMode, *OperationalMode))
"""Values a decision ``mode`` filter accepts: gate modes, then operational modes."""


def parse_instant(value: object) -> float:
    """Epoch seconds from a number or an ISO-8601 string (local time when it has no offset).

    >>> parse_instant("1700000000"), parse_instant(1.5)
    (1700000000.0, 1.5)
    >>> parse_instant("2023-11-14T22:13:20Z"), parse_instant("2023-11-14T23:13:20+01:00")
    (1700000000.0, 1700000000.0)
    >>> parse_instant("yesterday")
    Traceback (most recent call last):
    ...
    ValueError: 'yesterday' is not a time (give epoch seconds or ISO-8601)
    """
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = datetime.fromisoformat(value.strip()).timestamp()
            except ValueError:
                seconds = None
    if seconds is None or not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a time (give epoch seconds or ISO-8601)")
    return seconds


def parse_mode(value: str) -> str:
    """Check a decision mode filter against the gate and operational modes.

    >>> parse_mode("auto"), parse_mode("BALANCED")
    ('auto', 'BALANCED')
    >>> parse_mode("fast")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'fast' is not a mode (one of observe, dry-run, approve, auto, HIGH_PERFORMANCE, ...)
    """
    if value not in MODES:
        raise ValueError(f"{value!r} is not a mode (one of {', '.join(MODES)})")
    return value


Instant = Annotated[
    float,
    BeforeValidator(parse_instant),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
            "description": "epoch seconds or ISO-8601 (local time when no offset)",
        }
    ),
]
"""A point in time given as epoch seconds or ISO-8601, held as epoch seconds."""

Bucket = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "examples": ["15m", "1h", "1d"]}],
            "description": "seconds, or a duration such as 15m, 1h, 1d",
        }
    ),
]
"""A bucket width given as seconds or a duration string, held as seconds."""

Mode = Annotated[
    str,
    AfterValidator(parse_mode),
    WithJsonSchema({"type": "string", "enum": list(MODES)}),
]
"""A decision mode filter: a gate mode or an operational mode."""
