"""Learned state as bytes for the store, and each field of it read back checked.

A snapshot is a flat mapping of names to numpy arrays and JSON values. :func:`encode`
writes it as an ``.npz`` archive (``numpy.load`` reads it): every array a ``.npy``
member, the JSON values together in ``meta.json``. A member is deflated, at the fastest
level, only when a few pieces of it deflate well (slots not filled yet, flat series,
integers); noisy float data hardly shrinks and would only cost the writer thread time.
:func:`decode` refuses pickled objects, and turns whatever is wrong with the bytes into
one :class:`~setpoint.errors.KnowledgeError`, as do the field readers.

>>> state = {"version": 1, "keys": ["load"], "count": np.array([3])}
>>> back = decode(encode(state))
>>> back["keys"], array(back, "count", np.int64, (1,)).tolist()
(['load'], [3])
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from setpoint.errors import KnowledgeError

_META = "meta.json"
_NPY = ".npy"
_PIECE = 8192
_PIECES = 8
_WORTH = 0.8  # deflate a member when its pieces shrink to this share or less


def encode(state: Mapping[str, Any]) -> bytes:
    """The ``.npz`` bytes of ``state``: its arrays, and its other values as JSON."""
    out = io.BytesIO()
    meta = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(_META, json.dumps(meta, allow_nan=False))
        for name, value in state.items():
            if isinstance(value, np.ndarray):
                npy = io.BytesIO()
                np.lib.format.write_array(npy, value, allow_pickle=False)
                data = npy.getbuffer()
                kind = zipfile.ZIP_DEFLATED if _deflates(data) else zipfile.ZIP_STORED
                archive.writestr(name + _NPY, data, compress_type=kind, compresslevel=1)
    return out.getvalue()


def _deflates(data: memoryview) -> bool:
    """Whether ``data`` is worth deflating, judged on a few evenly spaced pieces of it.

    >>> _deflates(memoryview(np.full(10_000, np.inf).tobytes()))
    True
    >>> _deflates(memoryview(np.random.default_rng(0).random(10_000).tobytes()))
    False
    """
    step = max(len(data) // _PIECES, _PIECE)
    sample = b"".join(data[i : i + _PIECE] for i in range(0, len(data), step))
    return len(zlib.compress(sample, 1)) <= _WORTH * len(sample)


def decode(blob: bytes) -> dict[str, Any]:
    """The state :func:`encode` wrote; KnowledgeError when ``blob`` is not one.

    >>> decode(b"garbage")
    Traceback (most recent call last):
    ...
    setpoint.errors.KnowledgeError: unreadable state: File is not a zip file
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            state = json.loads(archive.read(_META))
            if not isinstance(state, dict):
                raise ValueError(f"{_META} holds no object")
            for name in archive.namelist():
                if name.endswith(_NPY):
                    with archive.open(name) as member:
                        state[name.removesuffix(_NPY)] = np.lib.format.read_array(
                            member, allow_pickle=False
                        )
    except (zipfile.BadZipFile, zlib.error, KeyError, ValueError, OSError, EOFError) as exc:
        raise KnowledgeError(f"unreadable state: {exc}") from exc
    return state


def array(
    state: Mapping[str, Any], name: str, dtype: npt.DTypeLike, shape: tuple[int, ...]
) -> npt.NDArray[Any]:
    """The array ``name`` of ``state``, which must have ``dtype`` and ``shape``.

    >>> array({"x": np.zeros(2)}, "x", np.float64, (3,))
    Traceback (most recent call last):
    ...
    setpoint.errors.KnowledgeError: state field 'x' must be a float64 array of shape (3,)
    """
    value = state.get(name)
    if not isinstance(value, np.ndarray) or value.dtype != np.dtype(dtype) or value.shape != shape:
        raise KnowledgeError(
            f"state field {name!r} must be a {np.dtype(dtype)} array of shape {shape}"
        )
    return value


def json_field(state: Mapping[str, Any], name: str, kind: type[Any]) -> Any:
    """The JSON value ``name`` of ``state``, which must be a ``kind`` (bool is no int).

    >>> json_field({"ticks": 4}, "ticks", int), json_field({"keys": []}, "keys", list)
    (4, [])
    >>> json_field({"ticks": True}, "ticks", int)
    Traceback (most recent call last):
    ...
    setpoint.errors.KnowledgeError: state field 'ticks' must be int
    """
    value = state.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise KnowledgeError(f"state field {name!r} must be {kind.__name__}")
    return value


def section(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The fields of ``state`` named ``prefix`` + something, under that something.

    >>> section({"season.0.lo": 1, "season.1.lo": 2, "ticks": 3}, "season.0.")
    {'lo': 1}
    """
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
