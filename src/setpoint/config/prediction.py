"""The ``prediction`` and ``crash`` sections: exhaustion forecasts and the OOM predictor.

>>> PredictionConfig().disk.horizon, CrashConfig().threshold
(21600.0, 0.6)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from setpoint.analyze.crash import CrashPolicy
from setpoint.analyze.exhaustion import ResourcePolicy
from setpoint.analyze.trend import TrendPolicy
from setpoint.config.durations import Duration


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResourceConfig(_Section):
    """How far ahead one resource family is forecast, and on how much history."""

    horizon: Duration = Field(3600.0, gt=0, description="predict when the ETA is inside this")
    window: Duration = Field(1800.0, gt=0, description="history a trend is fitted on")
    min_duration: Duration = Field(60.0, gt=0, description="shortest trend that may predict")

    def policy(self, duration_fraction: float) -> ResourcePolicy:
        """The analyze-stage policy these settings make."""
        trend = TrendPolicy(min_duration=self.min_duration, duration_fraction=duration_fraction)
        return ResourcePolicy(self.horizon, self.window, trend)


class PredictionConfig(_Section):
    """Disk, memory and fd exhaustion forecasts (``*.exhaustion_predicted``)."""

    enabled: bool = True
    duration_fraction: float = Field(
        0.2, gt=0, le=1, description="a trend must last this share of the ETA it claims"
    )
    disk: ResourceConfig = Field(
        default_factory=lambda: ResourceConfig(horizon=21600.0, min_duration=30.0)
    )
    memory: ResourceConfig = Field(default_factory=ResourceConfig)
    fds: ResourceConfig = Field(default_factory=ResourceConfig)

    def policies(self) -> dict[str, ResourcePolicy]:
        """One policy per family, for :class:`~setpoint.analyze.exhaustion.ExhaustionWatch`."""
        f = self.duration_fraction
        return {
            "disk": self.disk.policy(f),
            "memory": self.memory.policy(f),
            "fds": self.fds.policy(f),
        }


class CrashConfig(_Section):
    """The OOM predictor (``memory.oom_predicted``); see :mod:`setpoint.analyze.crash`."""

    enabled: bool = True
    threshold: float = Field(0.6, ge=0, le=1, description="confidence a prediction needs")
    horizon: Duration = Field(120.0, gt=0, description="predict kills expected within this")
    critical: Duration = Field(30.0, gt=0, description="CRITICAL when the kill is this near")
    buffer: int = Field(100, ge=10, le=1000, description="memory samples kept per domain")
    min_duration: Duration = Field(10.0, gt=0, description="shortest fall that may predict")
    duration_fraction: float = Field(0.35, gt=0, le=1, description="share of the ETA it must last")

    def policy(self) -> CrashPolicy:
        """The analyze-stage policy these settings make."""
        trend = TrendPolicy(
            min_duration=self.min_duration, duration_fraction=self.duration_fraction
        )
        return CrashPolicy(
            threshold=self.threshold,
            horizon=self.horizon,
            critical=min(self.critical, self.horizon / 2),
            buffer=self.buffer,
            trend=trend,
        )
