"""Forecast models on a regular series: ETS (Holt-Winters with intervals) or SARIMA.

Fitting estimates the parameters and is the slow part (ETS a fraction of a second on
two weeks of 15-minute buckets, SARIMA tens of seconds); :meth:`FittedModel.update`
runs the same parameters over newer data, which costs milliseconds, so a model is
refitted rarely and updated often. With less than ``min_seasons`` seasons of history
the model drops its seasonal part rather than guess a daily shape from one day.

ETS is statsmodels' ``ETSModel`` with additive errors and heuristic initial states:
only the smoothing parameters are estimated, and its prediction intervals are exact
(normal) for every model used here. statsmodels and pandas are imported on first use,
so nothing is loaded until a forecast is asked for.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from setpoint.analyze.base import FloatArray
from setpoint.analyze.forecasting.base import (
    ForecastUnavailable,
    Interval,
    NotEnoughHistory,
    Prediction,
)

log = logging.getLogger(__name__)

Kind = Literal["ets", "sarima"]

MIN_POINTS = 10
"""Fewest buckets any model is fitted on (statsmodels' heuristic start needs 10)."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which model to fit; ``season`` is the seasonal period in buckets (0: none).

    ``trend`` adds a damped additive trend to ETS. ``order`` and ``seasonal_order``
    are SARIMA's (p, d, q) and (P, D, Q).
    """

    kind: Kind = "ets"
    season: int = 96
    min_seasons: int = 2
    trend: bool = False
    order: tuple[int, int, int] = (1, 1, 1)
    seasonal_order: tuple[int, int, int] = (1, 1, 1)

    def seasonal_for(self, n: int) -> bool:
        """Whether ``n`` buckets of history are enough to fit the seasonal part.

        >>> ModelSpec(season=96).seasonal_for(191), ModelSpec(season=96).seasonal_for(192)
        (False, True)
        """
        return self.season > 1 and n >= max(self.min_seasons, 2) * self.season


def _statsmodels() -> Any:
    try:
        import pandas as pd
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel
        from statsmodels.tsa.statespace.sarimax import SARIMAX
    except ImportError as exc:
        raise ForecastUnavailable(
            "forecasting needs statsmodels: pip install 'setpoint[ml]'"
        ) from exc
    return pd, ETSModel, SARIMAX


def _model(values: FloatArray, spec: ModelSpec, seasonal: bool) -> Any:
    pd, ets_model, sarimax = _statsmodels()
    endog = pd.Series(values, dtype=float)
    if spec.kind == "sarima":
        return sarimax(
            endog,
            order=spec.order,
            seasonal_order=(*spec.seasonal_order, spec.season) if seasonal else (0, 0, 0, 0),
        )
    return ets_model(
        endog,
        error="add",
        trend="add" if spec.trend else None,
        damped_trend=spec.trend,
        seasonal="add" if seasonal else None,
        seasonal_periods=spec.season if seasonal else None,
        initialization_method="heuristic",
    )


def _quietly(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a statsmodels function, logging its warnings (convergence, ...) at debug level."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(*args, **kwargs)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise ForecastUnavailable(f"the model could not be fitted: {exc}") from exc
    for warning in caught:
        log.debug("statsmodels: %s", warning.message)
    return result


def describe(spec: ModelSpec, seasonal: bool) -> str:
    """The model's name for people.

    >>> describe(ModelSpec(), True), describe(ModelSpec(trend=True), False)
    ('ETS(A,N,A) season 96', 'ETS(A,Ad,N)')
    >>> describe(ModelSpec(kind="sarima", season=24), True)
    'SARIMA(1,1,1)(1,1,1,24)'
    """
    if spec.kind == "sarima":
        p, d, q = spec.order
        name = f"SARIMA({p},{d},{q})"
        return name + (
            "({},{},{},{})".format(*spec.seasonal_order, spec.season) if seasonal else ""
        )
    trend = "Ad" if spec.trend else "N"
    return f"ETS(A,{trend},A) season {spec.season}" if seasonal else f"ETS(A,{trend},N)"


class FittedModel:
    """A model whose parameters were estimated on one stretch of a series."""

    def __init__(self, spec: ModelSpec, seasonal: bool, results: Any) -> None:
        self.spec = spec
        self.seasonal = seasonal
        self._results = results

    @property
    def name(self) -> str:
        """The model's name, e.g. ``ETS(A,N,A) season 96``."""
        return describe(self.spec, self.seasonal)

    @property
    def nobs(self) -> int:
        """How many buckets the model was last run over."""
        return int(self._results.nobs)

    def update(self, values: FloatArray) -> FittedModel:
        """The same parameters run over ``values`` (newer data): cheap, no estimation.

        The seasonal part needs the history it was fitted with; a series that has
        become too short for it must be fitted again.
        """
        if len(values) < MIN_POINTS or (self.seasonal and not self.spec.seasonal_for(len(values))):
            raise NotEnoughHistory(f"{len(values)} buckets are too few for {self.name}")
        if self.spec.kind == "sarima":
            pd, _, _ = _statsmodels()
            results = _quietly(self._results.apply, pd.Series(values, dtype=float))
        else:
            model = _model(values, self.spec, self.seasonal)
            results = _quietly(model.smooth, np.asarray(self._results.params))
        return FittedModel(self.spec, self.seasonal, results)

    def predict(self, steps: Sequence[int], levels: Sequence[float]) -> list[Prediction]:
        """The forecast ``steps`` buckets ahead (each ≥ 1) with intervals at ``levels``."""
        furthest = max(steps)
        if self.spec.kind == "sarima":
            found = _quietly(self._results.get_forecast, furthest)
            variance = np.asarray(found.var_pred_mean, dtype=float)
        else:
            n = self.nobs
            found = _quietly(self._results.get_prediction, start=n, end=n + furthest - 1)
            variance = np.asarray(found.forecast_variance, dtype=float)
        mean = np.asarray(found.predicted_mean, dtype=float)
        sd = np.sqrt(np.maximum(variance, 0.0))
        out = []
        for k in steps:
            m, s = float(mean[k - 1]), float(sd[k - 1])
            bands = []
            for level in levels:
                z = NormalDist().inv_cdf(0.5 + level / 2)
                bands.append(Interval(level, m - z * s, m + z * s))
            out.append(Prediction(k, m, tuple(bands)))
        return out


def fit(values: FloatArray, spec: ModelSpec) -> FittedModel:
    """Estimate ``spec``'s parameters on ``values``; seasonal only with enough history.

    Raises :class:`NotEnoughHistory` with fewer than :data:`MIN_POINTS` values and
    :class:`ForecastUnavailable` when statsmodels is missing or the fit fails.
    """
    if len(values) < MIN_POINTS:
        raise NotEnoughHistory(f"{len(values)} buckets are too few to fit (need {MIN_POINTS})")
    seasonal = spec.seasonal_for(len(values))
    model = _model(values, spec, seasonal)
    results = _quietly(model.fit, disp=False)
    return FittedModel(spec, seasonal, results)
