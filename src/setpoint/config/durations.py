"""Durations written the way people write them: ``250ms``, ``1s``, ``10m``, ``2h``."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from a duration string or number.

    >>> parse_duration("1s"), parse_duration("250ms"), parse_duration("10m"), parse_duration(3)
    (1.0, 0.25, 600.0, 3.0)
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    ValueError: 'soon' is not a duration (use e.g. 500ms, 1s, 10m, 2h)
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 1s, 10m, 2h)")


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A pydantic field type holding seconds, written as a duration string in YAML."""
