"""What forecasting produces, and how it fails.

A forecast of one series is made at its *origin* (the end of the last observed
bucket) for a few horizons; each point has a mean and prediction intervals, the
range the value should fall in with the interval's probability (0.95 for 95 %).
"""

from __future__ import annotations

from dataclasses import dataclass

from setpoint.errors import SetpointError


class NotEnoughHistory(SetpointError):
    """The store holds too little of a series to forecast it."""


class ForecastUnavailable(SetpointError):
    """Forecasting cannot run here: statsmodels is missing, or the model failed."""


@dataclass(frozen=True, slots=True)
class Interval:
    """The range the value falls in with probability ``level`` (0.95 for 95 %)."""

    level: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class Prediction:
    """The forecast ``steps`` buckets after the end of the data: mean and intervals."""

    steps: int
    mean: float
    intervals: tuple[Interval, ...]


@dataclass(frozen=True, slots=True)
class HorizonForecast:
    """The forecast ``horizon`` seconds after the origin, for the time ``ts``."""

    horizon: float
    ts: float
    mean: float
    intervals: tuple[Interval, ...]

    def upper(self, level: float) -> float | None:
        """The upper bound of the interval at ``level``; None when not computed.

        >>> HorizonForecast(3600.0, 0.0, 5.0, (Interval(0.95, 1.0, 9.0),)).upper(0.95)
        9.0
        """
        return next((i.upper for i in self.intervals if i.level == level), None)


@dataclass(frozen=True, slots=True)
class SeriesForecast:
    """Forecasts of ``key`` on ``entity`` from ``origin``, by a model fitted at ``fitted_at``.

    ``history`` is how many buckets of ``bucket`` seconds the model ran over and
    ``filled`` how many of those had no sample (filled from roll-ups or interpolated).
    """

    key: str
    entity: str
    origin: float
    bucket: float
    model: str
    history: int
    filled: int
    fitted_at: float
    points: tuple[HorizonForecast, ...]
