"""The ``forecast`` section: seasonal forecasts of host and service series, with intervals.

``setpoint forecast`` uses the model settings whenever it is given the config file.
With ``enabled: true`` the agent also keeps forecasts of ``series`` fresh: it refits
each model every ``refit_every``, only while the host is idle, on a thread of its foveal
worker process (so statsmodels' tens of MiB stay out of the agent; the worker runs even
with ``foveal.enabled: false``), and raises ``forecast.breach`` when an interval
crosses a limit. With ``salient: true`` it also forecasts the series of entities the
foveal tier has just looked at, at most ``salient_series`` at a time, each until it
has not been looked at for ``salient_keep`` (no limits, so no breaches: see
:mod:`setpoint.analyze.forecasting.keeper` for the bound on fits).

An entry of ``series`` is a key of the host (``host.load1``) or a mapping naming the
service or entity (as ``thresholds`` do), with an optional limit of its own::

    series:
      - host.memory.used_percent
      - {series: service.rss_bytes, service: web, above: 2e9}
      - {series: dir.used_bytes, entity: "dir:spool"}

``limits`` bound a key on every entity it is listed for; an entry's own ``above`` or
``below`` replaces that.

>>> ForecastConfig().policy().steps(), ForecastConfig().policy().spec().season
([4, 24, 96], 96)
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from setpoint.analyze.forecasting.forecaster import ForecastPolicy
from setpoint.analyze.forecasting.keeper import KeeperPolicy, Limit, SalientPolicy
from setpoint.analyze.forecasting.models import MIN_POINTS, ModelSpec
from setpoint.config.durations import Duration
from setpoint.model import HOST, service_entity

ENTITY = re.compile(r"^[a-z][a-z0-9_-]*:\S+$")
"""An entity other than the host: ``KIND:NAME``, e.g. ``service:web`` or ``dir:spool``."""

Order = tuple[int, int, int]
"""SARIMA's (p, d, q) or (P, D, Q)."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SarimaConfig(_Section):
    """SARIMA's orders; its seasonal period is ``season / bucket``. Slow to fit."""

    order: Order = (1, 1, 1)
    seasonal_order: Order = (1, 1, 1)

    @field_validator("order", "seasonal_order")
    @classmethod
    def _small(cls, value: Order) -> Order:
        if not all(0 <= v <= 3 for v in value):
            raise ValueError("each order must be from 0 to 3")
        return value


class BreachLimit(_Section):
    """A bound a series should stay on the right side of: ``above`` or ``below`` it."""

    above: float | None = Field(None, description="breach when the upper bound exceeds this")
    below: float | None = Field(None, description="breach when the lower bound falls below this")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.above is None and self.below is None:
            raise ValueError("give above, below or both")
        return self


class WatchedSeries(_Section):
    """A series the agent forecasts: its key on an entity, and optionally its own limit.

    A bare key is the host's series.

    >>> WatchedSeries.model_validate("host.load1").ident
    ('host', 'host.load1')
    >>> WatchedSeries(series="service.rss_bytes", service="web").ident
    ('service:web', 'service.rss_bytes')
    """

    series: str = Field(min_length=1, description="series key, e.g. service.rss_bytes")
    service: str | None = Field(None, min_length=1, description="a service: entity service:NAME")
    entity: str | None = Field(None, description="host (the default), or KIND:NAME")
    above: float | None = Field(None, description="this series' own limit above")
    below: float | None = Field(None, description="this series' own limit below")

    @model_validator(mode="before")
    @classmethod
    def _bare_key(cls, data: object) -> object:
        if isinstance(data, str):
            return {"series": data}
        if not isinstance(data, dict):
            raise ValueError(
                f"{data!r} is neither a series key nor a mapping"
                " like {series: service.rss_bytes, service: web}"
            )
        return data

    @field_validator("entity")
    @classmethod
    def _entity(cls, value: str | None) -> str | None:
        if value is not None and value != HOST and not ENTITY.match(value):
            raise ValueError(f"{value!r} is not host or KIND:NAME (e.g. service:web)")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if self.service is not None and self.entity is not None:
            raise ValueError("give service or entity, not both")
        return self

    @property
    def ident(self) -> tuple[str, str]:
        """``(entity, key)``, as :attr:`setpoint.model.Sample.ident`."""
        if self.service is not None:
            return service_entity(self.service), self.series
        return self.entity or HOST, self.series

    def limit(self, shared: BreachLimit | None) -> Limit | None:
        """Its own limit if it has one, else ``shared`` (the ``limits`` entry of its key)."""
        if self.above is not None or self.below is not None:
            return Limit(self.above, self.below)
        return None if shared is None else Limit(shared.above, shared.below)


def _host_series(*keys: str) -> list[WatchedSeries]:
    return [WatchedSeries(series=key) for key in keys]


class ForecastConfig(_Section):
    """Forecasts of a few series at 1 h / 6 h / 24 h with 80 % and 95 % intervals."""

    enabled: bool = Field(
        False, description="keep forecasts of `series` fresh in the foveal worker process"
    )
    series: list[WatchedSeries] = Field(
        default_factory=lambda: _host_series(
            "host.cpu.percent", "host.memory.available_bytes", "host.load1"
        ),
        description="host series keys, or {series, service or entity, above, below}",
    )
    model: Literal["ets", "sarima"] = Field("ets", description="ets (Holt-Winters) or sarima")
    trend: bool = Field(False, description="ETS with a damped additive trend")
    bucket: Duration = Field(900.0, ge=60, le=3600, description="one value per bucket")
    history: Duration = Field(14 * 86400.0, gt=0, description="history a model is fitted on")
    season: Duration = Field(86400.0, gt=0, description="seasonal cycle (a day)")
    min_seasons: int = Field(2, ge=2, description="seasons of history before it is modelled")
    horizons: list[Duration] = Field(
        default_factory=lambda: [3600.0, 21600.0, 86400.0], min_length=1
    )
    levels: list[float] = Field(default_factory=lambda: [0.8, 0.95], min_length=1)
    refit_every: Duration = Field(6 * 3600.0, gt=0, description="parameters re-estimated")
    update_every: Duration = Field(900.0, gt=0, description="forecasts redone with new data")
    idle_load: float = Field(
        0.5, gt=0, description="refit only while the 1-minute load per CPU is below this"
    )
    breach_level: float = Field(0.95, gt=0, lt=1, description="interval judged against limits")
    limits: dict[str, BreachLimit] = Field(
        default_factory=dict, description="series key -> bound, on every entity listed"
    )
    sarima: SarimaConfig = Field(default_factory=SarimaConfig)
    salient: bool = Field(True, description="also forecast series the foveal tier looks at")
    salient_series: int = Field(12, ge=1, le=100, description="salient series at most at once")
    salient_keep: Duration = Field(
        3600.0, gt=0, description="a salient series is dropped after this without a look"
    )

    @field_validator("series")
    @classmethod
    def _once_each(cls, value: list[WatchedSeries]) -> list[WatchedSeries]:
        seen: dict[tuple[str, str], int] = {}
        for i, watched in enumerate(value):
            first = seen.setdefault(watched.ident, i)
            if first != i:
                entity, key = watched.ident
                raise ValueError(f"series[{first}] and series[{i}] are both {key!r} on {entity}")
        return value

    @field_validator("levels")
    @classmethod
    def _probabilities(cls, value: list[float]) -> list[float]:
        for level in value:
            if not 0 < level < 1:
                raise ValueError(f"{level} is not a probability between 0 and 1 (e.g. 0.95)")
        return value

    @field_validator("horizons")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(h <= 0 for h in value):
            raise ValueError("every horizon must be > 0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.season % self.bucket or self.season < 2 * self.bucket:
            raise ValueError(
                f"season ({self.season:g}s) must be a whole number (at least 2)"
                f" of buckets ({self.bucket:g}s)"
            )
        if self.history < MIN_POINTS * self.bucket:
            raise ValueError(f"history must hold at least {MIN_POINTS} buckets")
        unknown = sorted(set(self.limits) - {watched.series for watched in self.series})
        if unknown:
            raise ValueError(f"limits name series not in `series`: {', '.join(unknown)}")
        if self.breach_level not in self.levels:
            raise ValueError(f"breach_level {self.breach_level} must be one of levels")
        return self

    def policy(self) -> ForecastPolicy:
        """The analyze-stage policy these settings make."""
        spec = ModelSpec(
            kind=self.model,
            min_seasons=self.min_seasons,
            trend=self.trend,
            order=self.sarima.order,
            seasonal_order=self.sarima.seasonal_order,
        )
        return ForecastPolicy(
            self.bucket,
            self.history,
            self.season,
            tuple(self.horizons),
            tuple(self.levels),
            spec,
        )

    def keeper(self) -> KeeperPolicy:
        """The policy of the agent's background forecasts."""
        limits = {
            watched.ident: limit
            for watched in self.series
            if (limit := watched.limit(self.limits.get(watched.series))) is not None
        }
        return KeeperPolicy(
            tuple(watched.ident for watched in self.series),
            self.policy(),
            self.refit_every,
            self.update_every,
            self.idle_load,
            self.breach_level,
            limits,
            SalientPolicy(self.salient_series, self.salient_keep) if self.salient else None,
        )
