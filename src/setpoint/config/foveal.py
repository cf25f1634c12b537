"""The ``foveal`` section: the deep look at salient entities.

The peripheral tier (``attention``) scores every series cheaply and gives each entity a
salience; the foveal tier spends a bounded time per tick on the most salient ones:
change points (a sustained degradation) and an IsolationForest over the entity's
series together (see :mod:`setpoint.analyze.foveal.attention`). It is on by default and
runs in a worker process at niceness ``nice`` (:mod:`setpoint.analyze.foveal.worker`):
scikit-learn, SciPy and ruptures, about 130 MiB of RSS once an entity is first looked
at, load there and not in the agent (``docs/benchmarks.md``). Without the ``ml`` extra
the worker says so once and the tier stays off.

>>> c = FovealConfig()
>>> c.enabled, c.nice, c.budget, c.changepoint.worse("host.memory.used_percent")
(True, 10, 0.05, 'up')
>>> try:
...     FovealConfig(history=60)
... except ValueError as exc:
...     print("history (60 ticks) must hold" in str(exc))
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from setpoint.config.durations import Duration

Worse = Literal["up", "down"]
"""Which way a series moves when things get worse."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DegradationRule(_Section):
    """Series whose name ends in ``suffix`` are worse when they go ``worse``."""

    suffix: str = Field(min_length=1)
    worse: Worse


DEFAULT_RULES = tuple(
    DegradationRule(suffix=suffix, worse=worse)
    for suffix, worse in (
        ("latency", "up"),
        ("latency_seconds", "up"),
        ("latency_ms", "up"),
        ("duration_seconds", "up"),
        ("response_time", "up"),
        ("errors", "up"),
        ("error_rate", "up"),
        ("memory.used_percent", "up"),
        ("swap.used_percent", "up"),
        ("rss_bytes", "up"),
        ("memory_used_bytes", "up"),
        ("throughput", "down"),
        ("requests_per_s", "down"),
        ("rps", "down"),
        ("hit_ratio", "down"),
        ("memory.available_bytes", "down"),
    )
)
"""Latency, errors and memory are worse up; throughput and free memory worse down."""


class ChangePointConfig(_Section):
    """Change points: when a series' new level is a degradation."""

    enabled: bool = True
    threshold: float = Field(0.2, gt=0, description="relative change that is a degradation")
    sustain: Duration = Field(
        60.0, gt=0, description="the new level, and the history before it, must last this"
    )
    min_size: int = Field(5, ge=2, description="shortest segment, in ticks")
    penalty: float = Field(
        3.0, gt=0, description="cost of one change point, times log(n), in noise units"
    )
    clear_after: int = Field(
        10, ge=1, description="newest ticks whose median must be back within half the threshold"
    )
    rules: tuple[DegradationRule, ...] = Field(
        DEFAULT_RULES, description="first matching suffix wins; other series are not judged"
    )

    def worse(self, series: str) -> Worse | None:
        """Which way is worse for ``series``, or None when no rule names it."""
        return next((r.worse for r in self.rules if series.endswith(r.suffix)), None)


class ForestConfig(_Section):
    """The IsolationForest over one entity's series."""

    enabled: bool = True
    trees: int = Field(50, ge=1)
    trees_per_step: int = Field(10, ge=1, description="trees grown between two clock checks")
    max_samples: int = Field(256, ge=2, description="rows each tree is grown on")
    min_rows: int = Field(120, ge=10, description="complete rows needed to fit")
    calibrate: int = Field(60, ge=5, description="held-out rows that set the threshold")
    recent: int = Field(30, ge=2, description="newest rows scored, never fitted on")
    window: int = Field(
        5, ge=1, description="rows a score averages; this many newest must all pass to fire"
    )
    margin: float = Field(
        1.03, ge=1, description="threshold: this times the highest held-out score"
    )
    refit_every: Duration = Field(3600.0, gt=0, description="age at which a model is refitted")
    seed: int = 0

    @model_validator(mode="after")
    def _window_fits(self) -> ForestConfig:
        if self.window > self.recent:
            raise ValueError(f"window ({self.window}) must not exceed recent ({self.recent})")
        return self


class FovealConfig(_Section):
    """When and for how long the foveal tier looks at an entity."""

    enabled: bool = True
    nice: int = Field(10, ge=0, le=19, description="niceness the worker process adds to its own")
    salience: float = Field(0.99, gt=0, le=1, description="salience that earns a look")
    budget: Duration = Field(0.05, gt=0, description="time per tick the tier may spend")
    max_entities: int = Field(4, ge=1, description="entities looked at per tick at most")
    revisit: Duration = Field(5.0, ge=0, description="pause between two looks at one entity")
    history: int = Field(600, ge=32, description="ticks of history kept per series")
    changepoint: ChangePointConfig = Field(default_factory=ChangePointConfig)
    forest: ForestConfig = Field(default_factory=ForestConfig)

    @model_validator(mode="after")
    def _history_fits(self) -> FovealConfig:
        f = self.forest
        need = f.min_rows + f.calibrate + f.recent
        if self.history < need:
            raise ValueError(
                f"history ({self.history} ticks) must hold forest.min_rows + forest.calibrate"
                f" + forest.recent ({need})"
            )
        return self
