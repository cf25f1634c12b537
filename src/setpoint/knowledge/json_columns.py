"""How mappings and lists are kept in the store's JSON text columns.

JSON has no NaN or infinity, so non-finite numbers are stored as ``null``. Any mapping
comes back as a dict and any tuple or list as a list; numpy scalars are stored as the
plain numbers they hold.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

from setpoint.errors import KnowledgeError


def _plain(value: object) -> object:
    if isinstance(value, str | bool) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_json(value: object) -> str:
    """Encode ``value`` as compact JSON with sorted keys; non-finite numbers become null.

    >>> to_json({"b": (1, float("nan")), "a": {"x": "y"}})
    '{"a":{"x":"y"},"b":[1,null]}'
    """
    try:
        return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise KnowledgeError(f"cannot store as JSON: {exc}") from exc


def object_from_json(text: str) -> dict[str, Any]:
    """Parse the JSON object in ``text``; ValueError when it is not one.

    >>> object_from_json('{"a": 1}')
    {'a': 1}
    """
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, found {text[:40]!r}")
    return value


def list_from_json(text: str) -> list[Any]:
    """Parse the JSON array in ``text``; ValueError when it is not one.

    >>> list_from_json('["a", "b"]')
    ['a', 'b']
    """
    value = json.loads(text)
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON array, found {text[:40]!r}")
    return value
