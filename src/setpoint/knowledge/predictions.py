"""The predictions contract: every OOM prediction, whether it was borne out, and settings.

A prediction is stored when it is made (``pending``) and settled once: ``confirmed``
when an OOM kill came inside its window, ``averted`` when setpoint acted on it first
(a restart of the culprit), ``false_alarm`` when its window passed quietly. An OOM kill
nobody predicted is stored too, as ``unpredicted``, so recall can be counted. The
predictor's settings (its confidence threshold) live beside them, so ``setpoint crash
tune`` reaches a running agent through the store.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class PredictionOutcome(StrEnum):
    """How a prediction turned out."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    AVERTED = "averted"
    FALSE_ALARM = "false_alarm"
    UNPREDICTED = "unpredicted"


@dataclass(frozen=True, slots=True)
class Prediction:
    """One prediction of an OOM kill in ``domain`` (``host`` or a cgroup path).

    ``entity`` is the culprit (``service:NAME``) or ``host``; ``deadline`` is the end of
    the window in which a kill bears it out; ``evidence`` is the symptom's.
    """

    id: str
    ts: float
    entity: str
    domain: str
    risk: str
    confidence: float
    eta: float
    eta_low: float
    eta_high: float | None
    deadline: float
    outcome: PredictionOutcome = PredictionOutcome.PENDING
    outcome_ts: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PredictionAccuracy:
    """Counts of settled predictions; ``precision`` excludes averted ones.

    ``precision`` = confirmed / (confirmed + false alarms); ``recall`` = (confirmed +
    averted) / (confirmed + averted + unpredicted); None when there is nothing to count.
    """

    confirmed: int
    averted: int
    false_alarms: int
    unpredicted: int
    pending: int
    precision: float | None
    recall: float | None


class PredictionRepository(Protocol):
    """Predictions by id, newest first, and the predictor's settings."""

    def save(self, prediction: Prediction) -> None:
        """Insert a prediction or replace the one with its id (to settle it)."""
        ...

    def list(self, limit: int = 20) -> builtins.list[Prediction]:
        """The newest ``limit`` predictions, newest first."""
        ...

    def pending(self) -> builtins.list[Prediction]:
        """Predictions not settled yet, oldest first."""
        ...

    def accuracy(self) -> PredictionAccuracy:
        """How the settled predictions turned out."""
        ...

    def get_setting(self, name: str) -> str | None:
        """A setting of the predictor, or None when never set."""
        ...

    def set_setting(self, name: str, value: str, ts: float) -> None:
        """Store a setting; the running agent reads it on its next refresh."""
        ...
