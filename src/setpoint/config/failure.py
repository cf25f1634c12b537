"""The ``failure`` section: the failure predictor's threshold, schedule and training budget.

The agent predicts only while a model exists (``setpoint train`` makes the first one);
without one it does nothing but look for the file once per ``predict_every``. It
retrains every ``retrain_every`` in a niced subprocess, only while the host is idle,
and only once a first model exists.

>>> FailureConfig().threshold, FailureConfig().retrain_every, FailureConfig().label_kinds
(0.7, 86400.0, ['service.down', 'service.unhealthy'])
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from setpoint.config.durations import Duration


class FailureConfig(BaseModel):
    """P(failure within the model's horizon) per service: ``failure.predicted`` symptoms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="predict while a model exists in the data dir")
    threshold: float = Field(0.7, gt=0, le=1, description="probability that fires the symptom")
    clear_below: float = Field(0.5, ge=0, le=1, description="probability that clears it again")
    predict_every: Duration = Field(60.0, gt=0, description="how often each service is assessed")
    stale_after: Duration = Field(
        120.0, gt=0, description="no sample this recent: the service is not assessed"
    )
    label_kinds: list[str] = Field(
        default_factory=lambda: ["service.down", "service.unhealthy"],
        min_length=1,
        description="symptom kinds that count as a failure when training",
    )
    history: Duration = Field(30 * 86400.0, gt=0, description="how far back training reads")
    retrain_every: Duration | None = Field(
        86400.0, gt=0, description="retrain a model this old; null: never retrain"
    )
    idle_load: float = Field(
        0.5, gt=0, description="1-minute load per CPU below which the host counts as idle"
    )
    cpu_budget: Duration = Field(
        600.0, gt=0, description="CPU seconds one retraining may use before it is stopped"
    )
    nice: int = Field(19, ge=0, le=19, description="niceness of the retraining process")

    @model_validator(mode="after")
    def _hysteresis(self) -> FailureConfig:
        if self.clear_below > self.threshold:
            raise ValueError(
                f"clear_below ({self.clear_below}) must not exceed threshold ({self.threshold})"
            )
        return self
