"""The peripheral attention tier: every series, every tick, a few numpy operations.

Each series is a row of a 2-D ring buffer (series x window). Every ``refresh`` ticks one
sort of the whole buffer gives each row a robust baseline: the median, the IQR as a
scale, and a tail factor, the row's own 99.5 % two-sided excursion in those units
divided by a Gaussian's (at least 1), so a series with routine bursts is judged
against its own tails. Between refreshes a tick only computes ``z = |x - median| /
(scale * tail)`` and the calibrated score ``1 - exp(-z^2/2)`` in [0, 1]: one minus the
Chernoff bound on the chance that an ordinary Gaussian point lies that far out.

Only a value past the threshold takes the slow path. There the seasonal envelopes
(:mod:`setpoint.analyze.seasonal`: each phase of the day and of the week, once two
periods of history exist) may excuse it: a value normal for this phase in every kept
period is not anomalous. An anomalous value is not learned (unless the excursion
lasts ``relearn_after`` ticks, when it is the new normal), it must persist for
``persist`` ticks to fire, fires once, and clears after ``clear_after`` ordinary ticks:
one excursion is one symptom. Salience per entity is the decayed peak score of its
series, for a foveal tier to spend its budget on.

:meth:`Peripheral.get_state` snapshots all of it but the firing symptoms, so the agent
can keep it in the store across restarts: an excursion still going on after a restart
fires again, for the new agent to hear.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from setpoint.analyze.base import FloatArray
from setpoint.analyze.seasonal import IntArray, SeasonalEnvelope
from setpoint.analyze.snapshot import array, json_field, section
from setpoint.errors import KnowledgeError
from setpoint.model import Sample, Severity, Symptom

ANOMALY = "anomaly"
"""Symptom kind of a univariate excursion."""

STATE_VERSION = 1
"""Version of the layout :meth:`Peripheral.get_state` returns."""

_IQR_TO_SIGMA = 1.349
_GAUSS_995 = 2.807  # two-sided 99.5 % quantile of |N(0, 1)|
_NO_ROWS = np.empty(0, dtype=np.int64)
# The per-series arrays of the state, besides the (series x window) ring buffer.
_ROWS: dict[str, npt.DTypeLike] = {
    "count": np.int64,
    "median": np.float64,
    "inv": np.float64,
    "peak": np.float64,
    "run": np.int64,
    "calm": np.int64,
}


class Season(BaseModel):
    """A period the baseline learns the shape of, cut into ``buckets`` phases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seconds: float = Field(gt=0)
    buckets: int = Field(gt=0, le=10_000)


class PeripheralConfig(BaseModel):
    """Parameters of the peripheral tier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(256, ge=16, description="recent observations kept per series")
    warmup: int = Field(30, ge=3, description="observations before a series is scored")
    refresh: int = Field(16, ge=1, description="ticks between baseline recomputations")
    threshold: float = Field(0.9999, gt=0, lt=1, description="calibrated anomalous score")
    persist: int = Field(3, ge=1, description="anomalous ticks in a row before firing")
    clear_after: int = Field(5, ge=1, description="ordinary ticks before clearing")
    relearn_after: int = Field(300, ge=1, description="anomalous ticks that become normal")
    rel_floor: float = Field(0.01, ge=0, description="scale floor as a share of |median|")
    abs_floor: float = Field(1e-6, gt=0, description="scale floor in the series' unit")
    floors: dict[str, float] = Field(
        default_factory=lambda: {"error_rate": 0.05},
        description="scale floor of the series whose key ends with each suffix",
    )
    salience_decay: float = Field(0.95, ge=0, lt=1, description="per-tick decay of salience")
    seasons: tuple[Season, ...] = (
        Season(seconds=86_400, buckets=96),
        Season(seconds=604_800, buckets=168),
    )


class Peripheral:
    """Scores every series each tick; turns lasting excursions into symptoms.

    >>> p = Peripheral(PeripheralConfig(warmup=10, refresh=1, persist=2, seasons=()))
    >>> for t in range(40):
    ...     assert p.observe([Sample("load", 1.0 + 0.1 * (t % 3), float(t))]) == []
    >>> p.observe([Sample("load", 9.0, 40.0)])
    []
    >>> [s.kind for s in p.observe([Sample("load", 9.0, 41.0)])]
    ['anomaly']
    >>> round(p.salience()["host"], 3)
    1.0
    """

    def __init__(self, config: PeripheralConfig | None = None) -> None:
        self.config = c = config or PeripheralConfig()
        self._z = math.sqrt(-2.0 * math.log1p(-c.threshold))
        self._rows: dict[tuple[str, str], int] = {}
        self._keys: list[str] = []
        self._entities: list[str] = []
        self._seasons = [SeasonalEnvelope(s.seconds, s.buckets, 0) for s in c.seasons]
        self._pending: list[tuple[IntArray, FloatArray, float]] = []
        self._firing: dict[int, Symptom] = {}
        self._ticks = 0
        self._grow(64)

    def _grow(self, capacity: int) -> None:
        def keep(a: np.ndarray, fill: float) -> np.ndarray:
            out = np.full((capacity, *a.shape[1:]), fill, dtype=a.dtype)
            out[: a.shape[0]] = a
            return out

        w = self.config.window
        self._buf = keep(getattr(self, "_buf", np.empty((0, w))), np.nan)
        self._count = keep(getattr(self, "_count", np.empty(0, np.int64)), 0)
        self._median = keep(getattr(self, "_median", np.empty(0)), 0.0)
        self._inv = keep(getattr(self, "_inv", np.empty(0)), 0.0)  # 1/(scale*tail); 0 = cold
        self._peak = keep(getattr(self, "_peak", np.empty(0)), 0.0)
        self._run = keep(getattr(self, "_run", np.empty(0, np.int64)), 0)
        self._calm = keep(getattr(self, "_calm", np.empty(0, np.int64)), 0)
        self._floor = keep(getattr(self, "_floor", np.empty(0)), self.config.abs_floor)
        for season in self._seasons:
            season.grow(capacity)

    def __len__(self) -> int:
        return len(self._keys)

    def _row_indexes(self, samples: Sequence[Sample], now: float) -> IntArray:
        rows = self._rows
        try:
            return np.fromiter((rows[s.ident] for s in samples), np.int64, len(samples))
        except KeyError:
            pass
        new = []
        for s in samples:
            if s.ident not in rows:
                rows[s.ident] = len(self._keys)
                new.append(len(self._keys))
                self._keys.append(s.key)
                self._entities.append(s.entity)
        if len(self._keys) > self._count.size:
            self._grow(max(2 * self._count.size, len(self._keys)))
        for row in new:
            self._floor[row] = self._floor_of(self._keys[row])
        for season in self._seasons:
            season.new_rows(np.array(new, dtype=np.int64), now)
        return np.fromiter((rows[s.ident] for s in samples), np.int64, len(samples))

    def _floor_of(self, key: str) -> float:
        """Scale floor of one series, from ``floors`` by key suffix.

        A ratio that is nearly always 0 (a probe's error rate) has no spread to scale
        by: without a floor, one failed probe in ten would be an anomaly.
        """
        floors = [f for suffix, f in self.config.floors.items() if key.endswith(suffix)]
        return max([self.config.abs_floor, *floors])

    def observe(self, samples: Sequence[Sample]) -> list[Symptom]:
        """Score, then learn, one tick of samples; return symptoms that start or end."""
        samples = [s for s in samples if math.isfinite(s.value)]
        if not samples:
            return []
        now = max(s.ts for s in samples)
        rows = self._row_indexes(samples, now)
        values = np.fromiter((s.value for s in samples), np.float64, len(samples))
        z = np.abs(values - self._median[rows]) * self._inv[rows]
        hot = z >= self._z
        learn = np.ones(rows.size, dtype=bool)
        out: list[Symptom] = []
        if hot.any():
            out += self._hot(samples, rows, values, z, hot, learn, now)
        self._run[rows[~hot]] = 0
        self._calm[rows[~hot]] += 1
        if self._firing:
            out += self._clear(samples, rows, z)
        self._learn(rows[learn], values[learn])
        if self._seasons:  # raw values: a recurring burst is what the baseline cuts off
            self._pending.append((rows, values, now))
        score = -np.expm1(-0.5 * z * z)
        self._peak[rows] = np.maximum(score, self._peak[rows] * self.config.salience_decay)
        self._ticks += 1
        if self._ticks % self.config.refresh == 0:
            self.refresh()
        return out

    def _hot(
        self,
        samples: Sequence[Sample],
        rows: IntArray,
        values: FloatArray,
        z: FloatArray,
        hot: np.ndarray,
        learn: np.ndarray,
        now: float,
    ) -> list[Symptom]:
        """Excuse seasonal values, then advance the excursions of the rest."""
        idx = np.flatnonzero(hot)
        for season in self._seasons:
            seasonal = season.distance(rows[idx], values[idx], now) * self._inv[rows[idx]]
            z[idx] = np.minimum(z[idx], seasonal)
        hot[idx] = z[idx] >= self._z
        out = []
        for i in idx[hot[idx]]:
            row = int(rows[i])
            self._calm[row] = 0
            self._run[row] += 1
            learn[i] = self._run[row] >= self.config.relearn_after
            if row not in self._firing and self._run[row] >= self.config.persist:
                self._firing[row] = self._symptom(samples[i], row, float(z[i]))
                out.append(self._firing[row])
        return out

    def _clear(self, samples: Sequence[Sample], rows: IntArray, z: FloatArray) -> list[Symptom]:
        firing = np.fromiter(self._firing, np.int64, len(self._firing))
        done = np.isin(rows, firing) & (self._calm[rows] >= self.config.clear_after)
        out = []
        for i in np.flatnonzero(done):
            s = samples[int(i)]
            evidence = {"series": s.key, "value": s.value, "score": _score(float(z[i]))}
            out.append(self._firing.pop(int(rows[i])).cleared(s.ts, evidence))
        return out

    def _learn(self, rows: IntArray, values: FloatArray) -> None:
        self._buf[rows, self._count[rows] % self.config.window] = values
        self._count[rows] += 1

    def refresh(self) -> None:
        """Recompute every baseline from its window, and fold values into the seasons."""
        n, c = len(self._keys), self.config
        ordered = np.sort(self._buf[:n], axis=1)  # NaN (unfilled) sorts last
        filled = np.minimum(self._count[:n], c.window)
        last = np.maximum(filled - 1, 0)
        at = np.arange(n)

        def quantile(q: float) -> FloatArray:
            picked: FloatArray = ordered[at, np.floor(q * last).astype(np.int64)]
            return picked

        median = 0.5 * (ordered[at, last // 2] + ordered[at, (last + 1) // 2])
        iqr = quantile(0.75) - quantile(0.25)
        scale = np.maximum(
            np.maximum(iqr / _IQR_TO_SIGMA, c.rel_floor * np.abs(median)), self._floor[:n]
        )
        spread = np.maximum(quantile(0.9975) - median, median - quantile(0.0025))
        tail = np.maximum(spread / scale / _GAUSS_995, 1.0)
        warm = filled >= c.warmup
        self._median[:n] = np.where(warm, median, 0.0)
        self._inv[:n] = np.where(warm, 1.0 / (scale * tail), 0.0)
        for rows, values, ts in self._pending:
            for season in self._seasons:
                season.fold(rows, values, ts)
        self._pending.clear()

    def _symptom(self, sample: Sample, row: int, z: float) -> Symptom:
        median, half = float(self._median[row]), self._z / float(self._inv[row])
        return Symptom(
            kind=ANOMALY,
            entity=sample.entity,
            ts=sample.ts,
            severity=Severity.CRITICAL if z >= 2 * self._z else Severity.WARNING,
            evidence={
                "series": sample.key,
                "value": sample.value,
                "expected": median,
                "expected_range": [median - half, median + half],
                "score": _score(z),
                "z": round(z, 2),
                "model": "peripheral",
            },
        )

    def get_state(self) -> dict[str, Any]:
        """A versioned snapshot of what was learned, as copies cheap enough for the loop.

        Numpy arrays and JSON values (:func:`setpoint.analyze.snapshot.encode` makes
        bytes of it); the window and seasons are recorded, since the arrays fit no other.
        """
        n, c = len(self._keys), self.config
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "window": c.window,
            "seasons": [[s.seconds, s.buckets] for s in c.seasons],
            "ticks": self._ticks,
            "keys": list(self._keys),
            "entities": list(self._entities),
            "buf": self._buf[:n].copy(),
            "pending.ts": [float(ts) for _, _, ts in self._pending],
            "pending.sizes": [int(rows.size) for rows, _, _ in self._pending],
            "pending.rows": np.concatenate([r for r, _, _ in self._pending] or [_NO_ROWS]),
            "pending.values": np.concatenate([v for _, v, _ in self._pending] or [np.empty(0)]),
        }
        for name in _ROWS:
            state[name] = getattr(self, f"_{name}")[:n].copy()
        for i, season in enumerate(self._seasons):
            state.update({f"season.{i}.{k}": v for k, v in season.get_state(n).items()})
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`get_state` returned, firing nothing.

        Raises KnowledgeError, and changes nothing, when ``state`` is of another version
        or does not fit this tier's window and seasons.
        """
        c = self.config
        if state.get("version") != STATE_VERSION:
            raise KnowledgeError(
                f"state version {state.get('version')!r}; this setpoint reads {STATE_VERSION}"
            )
        for name, ours in (
            ("window", c.window),
            ("seasons", [[s.seconds, s.buckets] for s in c.seasons]),
        ):
            if state.get(name) != ours:
                raise KnowledgeError(f"state has {name} {state.get(name)!r}, the config {ours!r}")
        keys, entities = json_field(state, "keys", list), json_field(state, "entities", list)
        n = len(keys)
        if (
            len(entities) != n
            or len(set(zip(entities, keys, strict=True))) != n
            or not all(isinstance(k, str) for k in keys + entities)
        ):
            raise KnowledgeError("state keys and entities are not one string per series")
        buf = array(state, "buf", np.float64, (n, c.window))
        rows = {name: array(state, name, dtype, (n,)) for name, dtype in _ROWS.items()}
        seasons = [
            SeasonalEnvelope.restored(s.seconds, s.buckets, section(state, f"season.{i}."), n)
            for i, s in enumerate(c.seasons)
        ]
        pending = _pending(state, n)
        ticks = json_field(state, "ticks", int)
        self._rows = {ident: i for i, ident in enumerate(zip(entities, keys, strict=True))}
        self._keys, self._entities = list(keys), list(entities)
        self._buf = buf
        for name, values in rows.items():
            setattr(self, f"_{name}", values)
        self._seasons, self._pending, self._ticks = seasons, pending, ticks
        self._firing = {}
        self._floor = np.empty(0)
        self._grow(max(n, 64))
        self._floor[:n] = [self._floor_of(k) for k in keys]

    def firing(self) -> list[Symptom]:
        """Symptoms currently firing."""
        return list(self._firing.values())

    def salience(self) -> dict[str, float]:
        """How much attention each entity deserves now: its series' decayed peak score."""
        out: dict[str, float] = {}
        for row, entity in enumerate(self._entities):
            out[entity] = max(out.get(entity, 0.0), float(self._peak[row]))
        return out


def _pending(state: Mapping[str, Any], n: int) -> list[tuple[IntArray, FloatArray, float]]:
    """The ticks observed since the last refresh, not yet folded into the seasons."""
    stamps, sizes = json_field(state, "pending.ts", list), json_field(state, "pending.sizes", list)
    if len(stamps) != len(sizes) or not all(
        isinstance(t, float) and type(s) is int and s >= 0
        for t, s in zip(stamps, sizes, strict=True)
    ):
        raise KnowledgeError("state pending ticks are not one time and size each")
    rows = array(state, "pending.rows", np.int64, (sum(sizes),))
    values = array(state, "pending.values", np.float64, (sum(sizes),))
    if rows.size and not 0 <= rows.min() <= rows.max() < n:
        raise KnowledgeError("state pending rows name series it does not hold")
    if not sizes:
        return []
    cuts = np.cumsum(sizes)[:-1]
    return list(zip(np.split(rows, cuts), np.split(values, cuts), stamps, strict=True))


def _score(z: float) -> float:
    """The calibrated score of a robust z, rounded for evidence."""
    return round(-math.expm1(-0.5 * z * z), 6)
