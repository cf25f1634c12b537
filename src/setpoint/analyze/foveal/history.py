"""Recent history of every series, aligned by tick, for the foveal tier to look back on.

A change point needs the history before the change, and the change is what makes an
entity salient: by then it is too late to start keeping its series. So every series is
kept, cheaply: one row per series of a float32 ring buffer (series x ticks), where
column ``t % window`` holds tick ``t`` and NaN marks a series that did not report.
Keeping a tick costs one column write; reading an entity's block happens only when the
tier looks at it. Memory is 4 bytes x ``window`` per series (2.4 KB at 600 ticks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from setpoint.analyze.base import FloatArray
from setpoint.model import Sample


@dataclass(frozen=True, slots=True)
class Block:
    """One entity's recent history: ``values[t, j]`` is series ``keys[j]`` at ``ts[t]``."""

    keys: tuple[str, ...]
    names: tuple[str, ...]
    ts: FloatArray
    values: FloatArray


class History:
    """The last ``window`` ticks of every series, grouped by entity.

    A series is its entity and key (:attr:`Sample.ident`): two services that both
    report ``service.rss_bytes`` keep two rows.

    >>> h = History(window=3)
    >>> for t in range(4):
    ...     h.append([Sample("a", float(t), float(t)), Sample("b", 10.0 + t, float(t))], float(t))
    >>> h.append([Sample("a", 4.0, 4.0)], 4.0)
    >>> b = h.block("host")
    >>> b.keys, b.ts.tolist(), b.values.tolist()
    (('a', 'b'), [2.0, 3.0, 4.0], [[2.0, 12.0], [3.0, 13.0], [4.0, nan]])
    """

    def __init__(self, window: int) -> None:
        self.window = window
        self.ticks = 0
        self._rows: dict[tuple[str, str], int] = {}
        self._keys: list[str] = []
        self._names: list[str] = []
        self._by_entity: dict[str, list[int]] = {}
        self._buf = np.full((16, window), np.nan, dtype=np.float32)
        self._ts = np.full(window, np.nan)

    def __len__(self) -> int:
        return len(self._keys)

    def _row_indexes(self, samples: Sequence[Sample]) -> np.ndarray:
        rows = self._rows
        try:
            return np.fromiter((rows[s.ident] for s in samples), np.int64, len(samples))
        except KeyError:
            pass
        for s in samples:
            if s.ident not in rows:
                rows[s.ident] = len(self._keys)
                self._by_entity.setdefault(s.entity, []).append(len(self._keys))
                self._keys.append(s.key)
                self._names.append(s.series)
        if len(self._keys) > self._buf.shape[0]:
            grown = np.full((2 * len(self._keys), self.window), np.nan, dtype=np.float32)
            grown[: self._buf.shape[0]] = self._buf
            self._buf = grown
        return np.fromiter((rows[s.ident] for s in samples), np.int64, len(samples))

    def append(self, samples: Sequence[Sample], now: float) -> None:
        """Keep one tick: ``samples`` at time ``now``; series not in it get NaN."""
        col = self.ticks % self.window
        rows = self._row_indexes(samples)
        self._buf[:, col] = np.nan
        self._buf[rows, col] = np.fromiter((s.value for s in samples), np.float64, len(samples))
        self._ts[col] = now
        self.ticks += 1

    def block(self, entity: str) -> Block:
        """The entity's kept ticks, oldest first, as a fresh ``ticks x series`` array."""
        rows = np.asarray(self._by_entity.get(entity, []), dtype=np.int64)
        kept = min(self.ticks, self.window)
        order = np.arange(self.ticks - kept, self.ticks) % self.window
        values = self._buf[np.ix_(rows, order)].T.astype(np.float64)
        return Block(
            tuple(self._keys[r] for r in rows),
            tuple(self._names[r] for r in rows),
            self._ts[order],
            values,
        )
