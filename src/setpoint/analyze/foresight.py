"""Foresight for the daemon: exhaustion forecasts, the OOM predictor and its ledger.

The daemon hands it every tick's samples and the symptoms and decisions on the bus;
it returns the prediction symptoms to publish. Every ``sync_every`` seconds the daemon
runs :meth:`Foresight.sync` on its store thread: it reads the confidence threshold
(``setpoint crash tune`` writes it) and stores a status snapshot for ``setpoint crash
status``, so the CLI needs no running API.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from setpoint.analyze.crash import CrashPredictor
from setpoint.analyze.crash_history import PredictionLedger
from setpoint.analyze.exhaustion import ExhaustionWatch
from setpoint.config.prediction import CrashConfig, PredictionConfig
from setpoint.knowledge.predictions import Prediction, PredictionRepository
from setpoint.model import Decision, Sample, Symptom

THRESHOLD = "threshold"
"""Setting name of the confidence threshold."""
STATUS = "status"
"""Setting name of the latest status snapshot (JSON)."""


class Foresight:
    """Both predictors behind one small surface."""

    def __init__(
        self,
        prediction: PredictionConfig,
        crash: CrashConfig,
        save: Callable[[Prediction], object],
        sync_every: float = 10.0,
    ) -> None:
        self.exhaustion = ExhaustionWatch(prediction.policies()) if prediction.enabled else None
        self.crash = CrashPredictor(crash.policy()) if crash.enabled else None
        self.ledger = PredictionLedger(save)
        self.sync_every = sync_every
        self._last_sync = -math.inf

    def observe(self, samples: Sequence[Sample], now: float) -> list[Symptom]:
        """Forecast from one tick's samples; return symptoms that fire or clear."""
        out: list[Symptom] = []
        if self.exhaustion is not None:
            out += self.exhaustion.observe(samples)
        if self.crash is not None:
            out += self.crash.observe(samples)
            for s in samples:
                if s.series == "host.memory.oom_kills":
                    self.ledger.oom_counter(s.value, s.ts)
            self.ledger.settle(now)
        return out

    async def on_symptom(self, symptom: Symptom) -> None:
        """Hear predictions made and services killed (bus subscriber)."""
        self.ledger.on_symptom(symptom)

    async def on_decision(self, decision: Decision) -> None:
        """Hear decisions that act on a prediction (bus subscriber)."""
        self.ledger.on_decision(decision)

    def due(self, now: float) -> bool:
        """True when a :meth:`sync` is due; the caller then submits it."""
        if now - self._last_sync < self.sync_every:
            return False
        self._last_sync = now
        return True

    def snapshot(self, now: float) -> dict[str, Any]:
        """What ``setpoint crash status`` shows: threshold and every memory domain."""
        domains = []
        for a in self.crash.assessments() if self.crash is not None else []:
            t = a.trend
            domains.append(
                {
                    "domain": a.domain,
                    "risk": a.risk.value,
                    "confidence": a.confidence,
                    "headroom_bytes": a.headroom,
                    "limit_bytes": a.limit,
                    "eta_s": None if t is None else round(t.eta, 1),
                    "culprit": a.culprit,
                    "factors": a.factors,
                }
            )
        threshold = self.crash.threshold if self.crash is not None else None
        return {"ts": now, "threshold": threshold, "domains": domains}

    def sync(self, repo: PredictionRepository, snapshot: dict[str, Any]) -> None:
        """On the store thread: pick up a tuned threshold, store the status snapshot."""
        value = repo.get_setting(THRESHOLD)
        if value is not None and self.crash is not None:
            self.crash.threshold = float(value)
            snapshot["threshold"] = self.crash.threshold
        repo.set_setting(STATUS, json.dumps(snapshot), float(snapshot["ts"]))
