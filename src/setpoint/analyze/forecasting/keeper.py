"""The agent's forecasts: kept fresh on a background thread, refitted only while idle.

Every ``update_every`` the keeper reads the buckets finished since its last pass (the
whole history only once), runs each series' model over its history and forecasts. A
model is refitted every ``refit_every``, and only while the 1-minute load per CPU is
below ``idle_load``; in between, or while the host is busy, the old parameters are run
over the new data, which costs milliseconds. Nothing runs on the agent's tick.

A series is one ``(entity, key)``: the host's ``host.load1``, or ``service.rss_bytes``
of ``service:web``, each read and modelled apart from every other entity's. A series
with a limit raises ``forecast.breach`` on its entity while the interval at
``breach_level`` crosses the limit at any horizon, and clears it when none does.

**Salient series.** With a :class:`SalientPolicy`, :meth:`ForecastKeeper.look` adds the
series of entities the foveal tier has just looked at, beyond the configured ones: at
most ``salient.series`` of them at a time, each dropped once it has not been looked at
for ``salient.keep`` (a full keeper takes no new ones until then). A new one is read and
forecast at once rather than at the next pass; it has no limit, so it never fires. The
fits this adds are bounded: a slot takes a new series at most once per ``keep``, and
each series is refitted at most once per ``refit_every``, only while idle, so at most
``salient.series`` fits per ``keep`` plus as many per ``refit_every`` (ETS: about
0.1-0.5 s of CPU each).

The agent runs the keeper in its foveal worker process
(:mod:`setpoint.analyze.foveal.worker`), so that statsmodels never loads into the agent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from setpoint.analyze.base import FloatArray
from setpoint.analyze.forecasting.base import (
    ForecastUnavailable,
    NotEnoughHistory,
    SeriesForecast,
)
from setpoint.analyze.forecasting.forecaster import ForecastPolicy, predict_series
from setpoint.analyze.forecasting.models import MIN_POINTS, FittedModel, fit
from setpoint.analyze.forecasting.series import aligned, as_series, named, stored_means
from setpoint.clock import Clock, SystemClock
from setpoint.knowledge.base import SampleRepository
from setpoint.model import Severity, Symptom, SymptomState

log = logging.getLogger(__name__)

BREACH = "forecast.breach"

SeriesId = tuple[str, str]
"""A series the keeper watches: ``(entity, key)``, as :attr:`setpoint.model.Sample.ident`."""


@dataclass(frozen=True, slots=True)
class Limit:
    """A bound a series should stay on the right side of."""

    above: float | None = None
    below: float | None = None


@dataclass(frozen=True, slots=True)
class SalientPolicy:
    """How many series of salient entities are forecast, and for how long after a look."""

    series: int = 12
    keep: float = 3600.0


@dataclass(frozen=True, slots=True)
class KeeperPolicy:
    """What the keeper forecasts, how often it refits and updates, and the limits.

    ``series`` and the keys of ``limits`` are ``(entity, key)`` pairs.
    """

    series: tuple[SeriesId, ...]
    forecast: ForecastPolicy = field(default_factory=ForecastPolicy)
    refit_every: float = 6 * 3600.0
    update_every: float = 900.0
    idle_load: float = 0.5
    breach_level: float = 0.95
    limits: Mapping[SeriesId, Limit] = field(default_factory=dict)
    salient: SalientPolicy | None = None


@dataclass
class _Track:
    """One series: its bucket means since ``start``, its model, its last forecast."""

    start: float
    means: FloatArray
    sampled: npt.NDArray[np.bool_]
    model: FittedModel | None = None
    fitted_at: float = 0.0
    forecast: SeriesForecast | None = None
    error: str | None = None
    firing: Symptom | None = None


def host_is_idle(threshold: float) -> bool:
    """Whether the 1-minute load average per CPU is below ``threshold``."""
    return os.getloadavg()[0] / (os.cpu_count() or 1) < threshold


class ForecastKeeper:
    """Forecasts of a few series, refreshed on a thread of its own.

    ``after_pass``, when given, is called on that thread after each pass.
    """

    def __init__(
        self,
        policy: KeeperPolicy,
        samples: SampleRepository,
        emit: Callable[[Symptom], object],
        idle: Callable[[], bool] | None = None,
        clock: Clock | None = None,
        after_pass: Callable[[], object] | None = None,
    ) -> None:
        self.policy = policy
        self._samples = samples
        self._emit = emit
        self._idle = idle or (lambda: host_is_idle(policy.idle_load))
        self._clock = clock or SystemClock()
        self._after_pass = after_pass
        self._tracks: dict[SeriesId, _Track] = {}
        self._salient: dict[SeriesId, float] = {}
        self._adopted: dict[SeriesId, Symptom] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread; its first pass runs at once."""
        self._thread = threading.Thread(target=self._run, name="forecasts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after the pass it is in."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def adopt(self, symptoms: Iterable[Symptom]) -> None:
        """Take over breaches an earlier keeper left firing, so that they clear, not repeat."""
        for symptom in symptoms:
            if symptom.kind == BREACH and symptom.state is SymptomState.FIRING:
                self._adopted[(symptom.entity, str(symptom.evidence["series"]))] = symptom

    def look(self, idents: Iterable[SeriesId]) -> None:
        """Forecast these series of salient entities too, within the salient policy's bound."""
        salient = self.policy.salient
        if salient is None:
            return
        now = self._clock.time()
        added = False
        with self._lock:
            for ident, seen in list(self._salient.items()):
                if now - seen > salient.keep:
                    del self._salient[ident]
                    self._tracks.pop(ident, None)
            for ident in idents:
                if ident in self.policy.series:
                    continue
                if ident in self._salient or len(self._salient) < salient.series:
                    added |= ident not in self._salient
                    self._salient[ident] = now
        if added:
            self._wake.set()

    def _watched(self) -> list[SeriesId]:
        """The configured series, then the salient ones."""
        with self._lock:
            return [*self.policy.series, *self._salient]

    def _run(self) -> None:
        while not self._stop.is_set():
            self._pass(new_only=False)
            deadline = time.monotonic() + self.policy.update_every
            while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if self._wake.wait(left):
                    self._wake.clear()
                    if not self._stop.is_set():
                        self._pass(new_only=True)

    def _pass(self, new_only: bool) -> None:
        try:
            self.refresh(self._clock.time(), new_only)
        except Exception:
            log.exception(
                "forecast pass failed; the next one runs in %ss", self.policy.update_every
            )
        if self._after_pass is not None:
            self._after_pass()

    def refresh(self, now: float, new_only: bool = False) -> None:
        """One pass over every series: read new buckets, refit or update, forecast.

        ``new_only``: only the series not read yet (salient ones just added).
        """
        for ident in self._watched():
            if self._stop.is_set():
                return
            if new_only:
                with self._lock:
                    if ident in self._tracks:
                        continue
            track = self._read(ident, now)
            if track is None:
                continue
            try:
                self._forecast(ident, track, now)
                track.error = None
            except (NotEnoughHistory, ForecastUnavailable) as exc:
                track.error = str(exc)
                log.debug("no forecast of %s: %s", named(ident[1], ident[0]), exc)
            self._judge(ident, track, now)

    def _read(self, ident: SeriesId, now: float) -> _Track | None:
        """The series' buckets up to ``now``: all its history once, then the new ones."""
        entity, key = ident
        step = self.policy.forecast.bucket
        stop = aligned(now, step)
        with self._lock:
            track = self._tracks.get(ident)
        if track is None:
            if not self._samples.query(key=key, entity=entity, limit=1):
                return None
            start = stop - (self.policy.forecast.history // step) * step
            means, sampled = stored_means(self._samples, key, start, stop, step, entity)
            track = _Track(start, means, sampled, firing=self._adopted.pop(ident, None))
            with self._lock:
                self._tracks[ident] = track
            return track
        end = track.start + track.means.size * step
        if stop > end:
            means, sampled = stored_means(self._samples, key, end, stop, step, entity)
            keep = int(self.policy.forecast.history // step)
            track.means = np.concatenate([track.means, means])[-keep:]
            track.sampled = np.concatenate([track.sampled, sampled])[-keep:]
            track.start = stop - track.means.size * step
        return track

    def _forecast(self, ident: SeriesId, track: _Track, now: float) -> None:
        entity, key = ident
        policy = self.policy.forecast
        series = as_series(key, track.means, track.sampled, track.start, policy.bucket, entity)
        if len(series) < MIN_POINTS:
            raise NotEnoughHistory(
                f"{len(series)} buckets of {named(key, entity)}, need {MIN_POINTS}"
            )
        due = track.model is None or now - track.fitted_at >= self.policy.refit_every
        grew = (
            track.model is not None
            and not track.model.seasonal
            and (policy.spec().seasonal_for(len(series)))
        )
        if (due or grew) and self._idle():
            started = time.process_time()
            track.model = fit(series.values, policy.spec())
            track.fitted_at = now
            log.info(
                "fitted %s to %s in %.2f s CPU",
                track.model.name,
                named(key, entity),
                time.process_time() - started,
            )
            model = track.model
        elif track.model is not None:
            model = track.model.update(series.values)
        else:
            raise NotEnoughHistory(
                f"{named(key, entity)}: waiting for the host to be idle to fit a model"
            )
        made = predict_series(model, series, policy, track.fitted_at)
        with self._lock:
            track.forecast = made

    def _judge(self, ident: SeriesId, track: _Track, now: float) -> None:
        """Fire ``forecast.breach`` while an interval crosses the series' limit; clear it after."""
        entity, key = ident
        limit = self.policy.limits.get(ident)
        if limit is None:
            return
        crossing = self._crossing(track.forecast, limit) if track.error is None else None
        if crossing is not None and track.firing is None:
            track.firing = Symptom(
                BREACH, entity, now, severity=Severity.WARNING, evidence=crossing
            )
            self._emit(track.firing)
        elif crossing is None and track.firing is not None and track.error is None:
            self._emit(
                track.firing.cleared(now, {"series": key, "reason": "back within the limit"})
            )
            track.firing = None

    def _crossing(self, made: SeriesForecast | None, limit: Limit) -> dict[str, Any] | None:
        """Evidence of the nearest horizon whose interval crosses ``limit``; None if none."""
        if made is None:
            return None
        level = self.policy.breach_level
        for point in made.points:
            bound = next((i for i in point.intervals if i.level == level), None)
            if bound is None:
                continue
            for side, value, crossed in (
                ("above", limit.above, limit.above is not None and bound.upper > limit.above),
                ("below", limit.below, limit.below is not None and bound.lower < limit.below),
            ):
                if crossed:
                    return {
                        "series": made.key,
                        "model": made.model,
                        "horizon_s": point.horizon,
                        "at": point.ts,
                        "forecast": point.mean,
                        "interval": [bound.lower, bound.upper],
                        "level": level,
                        side: value,
                        "reason": f"the {level:.0%} interval of {named(made.key, made.entity)} in "
                        f"{point.horizon / 3600:g} h crosses the limit {side} {value:g}",
                    }
        return None

    def status(self) -> dict[str, dict[str, Any]]:
        """The last forecast (or why there is none) of each series, for ``GET /status``.

        By entity, then by series key: ``{"service:web": {"service.rss_bytes": {...}}}``.
        """
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            tracks = dict(self._tracks)
        for ident in self._watched():
            entity, key = ident
            track = tracks.get(ident)
            if track is None:
                shown: dict[str, Any] = {"error": "no samples yet"}
            elif track.forecast is not None and track.error is None:
                shown = asdict(track.forecast)
            else:
                shown = {"error": track.error or "not forecast yet"}
            out.setdefault(entity, {})[key] = shown
        return out
