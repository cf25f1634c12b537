"""The failure predictor in the agent: ``failure.predicted`` symptoms and scheduled retraining.

Every ``predict_every`` the daemon awaits :meth:`FailureWatch.check`. On its own
thread it looks for the model file (a ``stat``: nothing else happens, and nothing of
the predictor is imported, while there is none), loads it when it changed, and
assesses every configured service. Back on the loop, a service whose probability
reaches ``threshold`` gets a firing symptom, cleared once it falls below
``clear_below`` or the service is no longer assessed. When the model is older than
``retrain_every`` and the host is idle, a retraining subprocess starts
(:mod:`~setpoint.analyze.failure.retrain`); the next check loads what it saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from setpoint.analyze.failure.files import META_FILE, models_dir
from setpoint.config.failure import FailureConfig
from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import KnowledgeStore
from setpoint.model import Symptom, service_entity

if TYPE_CHECKING:
    from setpoint.analyze.failure.predict import Assessment, Assessor

log = logging.getLogger(__name__)

PREDICTED = "failure.predicted"
"""Kind of the symptom: this service is likely to fail within the model's horizon."""

_Stamp = tuple[int, int]


class FailureWatch:
    """P(failure) per configured service on a thread of its own, and the symptoms it fires."""

    def __init__(
        self,
        config: FailureConfig,
        data_dir: Path,
        store: KnowledgeStore,
        services: Collection[str],
        store_url: str | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.store = store
        self.entities = frozenset(service_entity(name) for name in services)
        self.store_url = store_url
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="failure")
        self._assessor: Assessor | None = None
        self._stamp: _Stamp | None = None
        self._firing: dict[str, Symptom] = {}
        self._last_check = -math.inf
        self._checking = False
        self._last_attempt = -math.inf
        self._training: asyncio.Task[bool] | None = None

    def due(self, now: float) -> bool:
        """True when a check is due (and none is running); the daemon then awaits one."""
        if not self.config.enabled or self._checking:
            return False
        return now - self._last_check >= self.config.predict_every

    async def check(self, now: float) -> list[Symptom]:
        """Assess every service on the predictor's thread; return symptoms that fire or clear."""
        self._checking, self._last_check = True, now
        try:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(self._pool, self._assess, now)
        except Exception:  # a store that failed to answer: logged; the next check tries again
            log.exception("failure prediction failed")
            return []
        finally:
            self._checking = False
        symptoms = self._symptoms(found, now)
        if self._retrain_due(now):
            self._start_retraining(now)
        return symptoms

    def _assess(self, now: float) -> list[Assessment]:
        """On the thread: (re)load the model if its file changed, then assess."""
        directory = models_dir(self.data_dir)
        try:
            info = (directory / META_FILE).stat()
        except FileNotFoundError:
            self._assessor, self._stamp = None, None
            return []
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            self._load(directory)
        if self._assessor is None:
            return []
        return self._assessor.assess(self.store, now, self.entities, self.config.stale_after)

    def _load(self, directory: Path) -> None:
        """Load the model; an unusable one is logged and the one loaded before is kept."""
        from setpoint.analyze.failure.features import FEATURE_NAMES
        from setpoint.analyze.failure.model import load
        from setpoint.analyze.failure.predict import Assessor

        try:
            model = load(directory, FEATURE_NAMES)
        except KnowledgeError as exc:
            log.error("failure model not loaded: %s", exc)
            return
        self._assessor = Assessor(model)
        trained = datetime.fromtimestamp(model.trained_at, UTC).isoformat(timespec="seconds")
        log.info("failure model loaded from %s (trained %s)", model.path, trained)

    def _symptoms(self, found: list[Assessment], now: float) -> list[Symptom]:
        out: list[Symptom] = []
        assessed = {a.entity: a for a in found}
        for entity, a in assessed.items():
            firing = self._firing.get(entity)
            if firing is None and a.probability >= self.config.threshold:
                self._firing[entity] = Symptom(PREDICTED, entity, now, evidence=self._evidence(a))
                out.append(self._firing[entity])
            elif firing is not None and a.probability < self.config.clear_below:
                reason = f"P(failure) fell to {a.probability:.2f}"
                out.append(firing.cleared(now, {"probability": a.probability, "reason": reason}))
                del self._firing[entity]
        for entity in [e for e in self._firing if e not in assessed]:
            reason = "no longer assessed: no model, or no recent readings of the service"
            out.append(self._firing.pop(entity).cleared(now, {"reason": reason}))
        return out

    def _evidence(self, a: Assessment) -> dict[str, Any]:
        model = self._assessor.model if self._assessor is not None else None
        horizon = model.spec.horizon if model is not None else math.nan
        top = ", ".join(f"{f['feature']}={f['value']}" for f in a.top) or "no single feature"
        return {
            "probability": a.probability,
            "threshold": self.config.threshold,
            "horizon_s": horizon,
            "model": "xgboost failure model",
            "trained_at": model.trained_at if model is not None else None,
            "auc": model.metrics.get("auc") if model is not None else None,
            "top_features": a.top,
            "reason": (
                f"P(failure within {horizon / 60:.0f} min) = {a.probability:.2f}"
                f" >= {self.config.threshold:.2f}; most raised by {top}"
            ),
        }

    def _retrain_due(self, now: float) -> bool:
        every = self.config.retrain_every
        if every is None or self._assessor is None or self._training is not None:
            return False
        last = max(self._assessor.model.trained_at, self._last_attempt)
        if now - last < every:
            return False
        from setpoint.analyze.failure.retrain import idle

        return idle(self.config.idle_load)

    def _start_retraining(self, now: float) -> None:
        from setpoint.analyze.failure.retrain import retrain

        self._last_attempt = now
        log.info(
            "host idle and failure model older than %.0f s: retraining", self.config.retrain_every
        )
        self._training = asyncio.create_task(
            retrain(self.data_dir, self.config, self.store_url), name="failure-retrain"
        )
        self._training.add_done_callback(self._retrained)

    def _retrained(self, task: asyncio.Task[bool]) -> None:
        self._training = None
        if not task.cancelled() and task.exception() is not None:
            log.error("failure model retraining failed: %s", task.exception())

    async def aclose(self) -> None:
        """Stop a retraining in progress (its subprocess is killed) and the thread."""
        if self._training is not None:
            self._training.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._training
        self._pool.shutdown(wait=True)
