"""Forecasts of stored series: bucket the history, fit or update a model, predict.

:func:`forecast_series` does all of it at once (``setpoint forecast``);
:class:`~setpoint.analyze.forecasting.keeper.ForecastKeeper` keeps the fitted model
between calls and only updates it with new buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from setpoint.analyze.forecasting.base import HorizonForecast, NotEnoughHistory, SeriesForecast
from setpoint.analyze.forecasting.models import MIN_POINTS, FittedModel, ModelSpec, fit
from setpoint.analyze.forecasting.series import RegularSeries, load_series, named, span
from setpoint.knowledge.base import SampleRepository
from setpoint.model import HOST

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class ForecastPolicy:
    """How series are forecast: bucket size, history fitted on, horizons and intervals.

    ``season`` is the seasonal cycle in seconds (a day); the model's period is
    ``season / bucket`` buckets.

    >>> p = ForecastPolicy()
    >>> p.steps(), p.spec().season
    ([4, 24, 96], 96)
    """

    bucket: float = 900.0
    history: float = 14 * DAY
    season: float = DAY
    horizons: tuple[float, ...] = (3600.0, 6 * 3600.0, DAY)
    levels: tuple[float, ...] = (0.8, 0.95)
    model: ModelSpec = field(default_factory=ModelSpec)

    def steps(self) -> list[int]:
        """Each horizon in buckets, rounded up (at least one)."""
        return [max(1, math.ceil(h / self.bucket)) for h in self.horizons]

    def spec(self) -> ModelSpec:
        """The model with its seasonal period in buckets."""
        return replace(self.model, season=round(self.season / self.bucket))

    @property
    def min_history(self) -> float:
        """The least history that can be forecast at all, in seconds."""
        return MIN_POINTS * self.bucket


def predict_series(
    model: FittedModel, series: RegularSeries, policy: ForecastPolicy, fitted_at: float
) -> SeriesForecast:
    """Forecast ``series`` at the policy's horizons with a model already run over it."""
    predictions = model.predict(policy.steps(), policy.levels)
    points = tuple(
        HorizonForecast(h, series.end + p.steps * series.step, p.mean, p.intervals)
        for h, p in zip(policy.horizons, predictions, strict=True)
    )
    return SeriesForecast(
        series.key,
        series.entity,
        series.end,
        series.step,
        model.name,
        len(series),
        series.filled,
        fitted_at,
        points,
    )


def forecast_series(
    samples: SampleRepository,
    key: str,
    now: float,
    policy: ForecastPolicy,
    entity: str = HOST,
) -> SeriesForecast:
    """Load the history of ``key`` on ``entity`` before ``now``, fit a model on it, forecast.

    Raises :class:`~setpoint.analyze.forecasting.base.NotEnoughHistory` when the store
    holds too little of the series and
    :class:`~setpoint.analyze.forecasting.base.ForecastUnavailable` when the model
    cannot be fitted (or statsmodels is missing).
    """
    series = load_series(samples, key, now, policy.history, policy.bucket, entity)
    if len(series) < MIN_POINTS:
        raise NotEnoughHistory(
            f"{named(key, entity)}: {span(len(series) * series.step)} of history"
            f" in {span(series.step)} buckets;"
            f" forecasting needs at least {span(policy.min_history)}"
        )
    model = fit(series.values, policy.spec())
    return predict_series(model, series, policy, now)
