"""The ``learning`` section: how candidates are chosen and how patterns are mined.

The defaults are the seed's: a pattern seen in 3 distinct incidents with confidence
0.7 is learned, patterns 80 % alike merge, patterns unseen for 30 days expire.

>>> LearningConfig().strategy, LearningConfig().expire_after
('thompson', 2592000.0)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.durations import Duration


class LearningConfig(BaseModel):
    """Choosing among a playbook's candidates, and mining patterns from outcomes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Literal["thompson", "ucb"] = Field(
        "thompson", description="thompson: sample each posterior; ucb: mean plus a bonus"
    )
    seed: int | None = Field(None, ge=0, description="random seed (reproducible choices)")
    ucb_c: float = Field(1.0, gt=0, description="weight of the UCB exploration bonus")
    min_contexts: int = Field(3, ge=1, description="distinct incidents before a pattern is learned")
    min_confidence: float = Field(0.7, ge=0, le=1, description="confidence a learned one needs")
    similarity: float = Field(0.8, gt=0, le=1, description="patterns this alike merge")
    expire_after: Duration = Field(30 * 86400.0, gt=0, description="unseen this long: deleted")
    mine_every: Duration = Field(3600.0, gt=0, description="how often mining and expiry run")
