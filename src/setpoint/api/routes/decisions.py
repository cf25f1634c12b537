"""``/decisions``: listing, one decision, human feedback and outcome analytics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError

from setpoint.api.params import Bucket, Instant, Mode
from setpoint.api.schemas import DecisionOut, FeedbackIn, RewardPointOut, SuccessRateOut
from setpoint.knowledge.base import DecisionFilter, KnowledgeStore
from setpoint.model import OutcomeStatus

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such decision"}}


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A closed time window in epoch seconds; ``None`` leaves that side open."""

    start_time: float | None
    end_time: float | None


def time_range(
    start_time: Annotated[Instant | None, Query()] = None,
    end_time: Annotated[Instant | None, Query()] = None,
) -> TimeRange:
    """Read the ``start_time``/``end_time`` query pair; refuse it when it runs backwards."""
    if start_time is not None and end_time is not None and end_time < start_time:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "end_time"),
                    "msg": "must not be before start_time",
                    "input": end_time,
                }
            ]
        )
    return TimeRange(start_time, end_time)


Window = Annotated[TimeRange, Depends(time_range)]


def build_router(store: KnowledgeStore) -> APIRouter:
    """Routes over the decisions of ``store``; analytics come before ``/{decision_id}``."""
    router = APIRouter(prefix="/decisions", tags=["decisions"])

    @router.get("/analytics/success_rate")
    def success_rate(window: Window) -> SuccessRateOut:
        """Outcome counts and success share of decisions applied within the window."""
        rate = store.decisions.success_rate(window.start_time, window.end_time)
        return SuccessRateOut.model_validate(rate)

    @router.get("/analytics/reward_trend")
    def reward_trend(
        window: Window,
        bucket: Annotated[Bucket, Query(gt=0)] = 3600.0,
    ) -> list[RewardPointOut]:
        """Mean reward per time bucket (seconds or a duration such as 1h), oldest first."""
        points = store.decisions.reward_trend(bucket, window.start_time, window.end_time)
        return [RewardPointOut.model_validate(point) for point in points]

    @router.get("")
    def list_decisions(
        window: Window,
        mode: Annotated[Mode | None, Query(description="gate or operational mode")] = None,
        outcome: OutcomeStatus | None = None,
        entity: str | None = None,
        incident_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[DecisionOut]:
        """Decisions with their outcomes, newest first."""
        where = DecisionFilter(
            mode=mode,
            outcome=outcome,
            start_time=window.start_time,
            end_time=window.end_time,
            entity=entity,
            incident_id=incident_id,
            limit=limit,
        )
        return [DecisionOut.model_validate(record) for record in store.decisions.list(where)]

    @router.get("/{decision_id}", responses=_NOT_FOUND)
    def get_decision(decision_id: str) -> DecisionOut:
        """One decision with its outcome and any human feedback."""
        record = store.decisions.get(decision_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no decision {decision_id!r}")
        return DecisionOut.model_validate(record)

    @router.post("/{decision_id}/feedback", responses=_NOT_FOUND)
    def add_feedback(decision_id: str, feedback: FeedbackIn) -> DecisionOut:
        """Attach a human's rating to a decision; answers with the updated decision."""
        if not store.decisions.add_feedback(decision_id, feedback.model_dump()):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no decision {decision_id!r}")
        return get_decision(decision_id)

    return router
