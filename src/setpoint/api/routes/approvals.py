"""``/approvals``: decisions waiting for a human, and the answers to them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, status

from setpoint.api.schemas import AnswerIn, ApprovalOut
from setpoint.errors import ApprovalError, ApprovalNotFound
from setpoint.execute.gate.control import GateControl
from setpoint.knowledge.base import KnowledgeStore
from setpoint.model import Approval, ApprovalStatus

_ANSWER: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such approval"},
    409: {"description": "already answered, or expired"},
    503: {"description": "no agent loop in this process"},
}


def build_router(store: KnowledgeStore, control: GateControl | None) -> APIRouter:
    """List approvals from the store; answer them through the running agent."""
    router = APIRouter(prefix="/approvals", tags=["approvals"])

    @router.get("")
    def list_approvals(
        state: Annotated[ApprovalStatus | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ApprovalOut]:
        """Approvals, newest first; ``status=pending`` for those waiting."""
        return [ApprovalOut.model_validate(a) for a in store.approvals.list(state, limit)]

    async def answer(decision_id: str, approve: bool, body: AnswerIn | None) -> ApprovalOut:
        if control is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no agent loop runs here")
        asked = body or AnswerIn()
        try:
            if approve:
                done: Approval = await control.approve(decision_id, asked.by, asked.note)
            else:
                done = await control.deny(decision_id, asked.by, asked.note)
        except ApprovalNotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except ApprovalError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return ApprovalOut.model_validate(done)

    @router.post("/{decision_id}/approve", responses=_ANSWER)
    async def approve(
        decision_id: str, body: Annotated[AnswerIn | None, Body()] = None
    ) -> ApprovalOut:
        """Approve a pending decision: it runs at once, within the gate's limits."""
        return await answer(decision_id, True, body)

    @router.post("/{decision_id}/deny", responses=_ANSWER)
    async def deny(
        decision_id: str, body: Annotated[AnswerIn | None, Body()] = None
    ) -> ApprovalOut:
        """Refuse a pending decision: it is recorded as refused and never runs."""
        return await answer(decision_id, False, body)

    return router
