"""Excursion onsets: a robust surprise, reported once per excursion.

Each observation gets two robust z-scores against a rolling window: of its value and
of its step from the previous value (a level shift shows in both, a spike mostly in
the step, a slow drift only in the value). The larger one is turned into a surprise
by this series' own history: the share of the last ``history`` surprises it exceeds,
times the Chernoff bound ``1 - exp(-z^2/2)``, so a series with routine large
swings has to exceed its own routine, and a quiet series still needs a real z.

An alarm costs the operator every time it is raised, so only an onset is reported:
a score counts only when it is above every score of the last ``quiet`` observations
(later ones within an excursion are reported as 0, unless they grow). Points whose
surprise reaches ``protect`` are not learned (an ongoing incident does not become the
new normal) until the excursion has lasted ``relearn_after`` observations.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from setpoint.analyze.base import value_of
from setpoint.analyze.sorted_window import SortedWindow
from setpoint.errors import KnowledgeError

_STATE_VERSION = 1


class Excursion:
    """Reports the onset of each excursion with a calibrated surprise in [0, 1].

    >>> d = Excursion(Excursion.Config(warmup=20, window=50, history=50, quiet=10))
    >>> scores = []
    >>> for i in range(60):
    ...     x = {"value": 10.0 + (i % 3) + (30.0 if i >= 50 else 0.0)}
    ...     scores.append(d.score_one(x))
    ...     d.learn_one(x)
    >>> max(scores[:50]) < 0.9, scores[50] > 0.99, max(scores[51:])
    (True, True, 0.0)
    """

    class Config(BaseModel):
        """Parameters of the excursion detector."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        window: int = Field(400, ge=10, description="observations the baselines hold")
        history: int = Field(2000, ge=10, description="surprises the calibration holds")
        warmup: int = Field(150, ge=3, description="observations before scoring")
        quiet: int = Field(300, ge=1, description="observations an onset outranks")
        protect: float = Field(0.999, gt=0, le=1, description="surprise not learned")
        relearn_after: int = Field(50, ge=1, description="excursion length that is normal")
        rel_floor: float = Field(0.001, ge=0, description="scale floor, share of |median|")

    def __init__(self, config: Config | None = None) -> None:
        self.config = c = config or self.Config()
        self.warmup = c.warmup
        self._values = SortedWindow(c.window)
        self._steps = SortedWindow(c.window)
        self._surprises = SortedWindow(c.history)
        self._recent: deque[float] = deque(maxlen=c.quiet)
        self._last: float | None = None
        self._seen = 0
        self._run = 0

    def _surprise(self, v: float) -> float:
        """Calibrated surprise of ``v`` in [0, 1]; 0 before warm-up."""
        if self._seen < self.warmup or self._last is None:
            return 0.0
        floor = self.config.rel_floor
        z = max(self._values.z(v, floor), self._steps.z(v - self._last, floor))
        return float(-np.expm1(-0.5 * z * z)) * self._surprises.rank(z)

    def score_one(self, x: Mapping[str, float]) -> float:
        """The onset score of ``x``: its surprise if it outranks the recent ones, else 0."""
        v = value_of(x)
        if v is None:
            return 0.0
        s = self._surprise(v)
        return s if not self._recent or s > max(self._recent) else 0.0

    def learn_one(self, x: Mapping[str, float]) -> None:
        """Take ``x`` into the baselines unless it is part of a young excursion."""
        v = value_of(x)
        if v is None:
            return
        s = self._surprise(v)
        if self._seen >= self.warmup and self._last is not None:
            floor = self.config.rel_floor
            self._surprises.push(
                max(self._values.z(v, floor), self._steps.z(v - self._last, floor))
            )
        self._recent.append(s)
        self._run = self._run + 1 if s >= self.config.protect else 0
        if self._run == 0 or self._run >= self.config.relearn_after:
            if self._last is not None:
                self._steps.push(v - self._last)
            self._values.push(v)
        self._last = v
        self._seen += 1

    def get_state(self) -> dict[str, Any]:
        """What was learned, versioned and JSON-serialisable."""
        return {
            "version": _STATE_VERSION,
            "values": list(self._values.order),
            "steps": list(self._steps.order),
            "surprises": list(self._surprises.order),
            "recent": list(self._recent),
            "last": self._last,
            "seen": self._seen,
            "run": self._run,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`get_state`."""
        if state.get("version") != _STATE_VERSION:
            raise KnowledgeError(f"excursion state version {state.get('version')!r}")
        self._values.load([float(v) for v in state["values"]])
        self._steps.load([float(v) for v in state["steps"]])
        self._surprises.load([float(v) for v in state["surprises"]])
        self._recent = deque((float(v) for v in state["recent"]), maxlen=self.config.quiet)
        self._last = None if state["last"] is None else float(state["last"])
        self._seen, self._run = int(state["seen"]), int(state["run"])
