"""``POST /pause`` and ``POST /resume``: the global kill switch of the running agent.

They run on the agent's event loop (``async``), as every audit write must.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status

from setpoint.api.schemas import PauseIn, PauseOut
from setpoint.execute.gate import PauseState
from setpoint.execute.gate.control import GateControl

_NO_AGENT: dict[int | str, dict[str, Any]] = {503: {"description": "no agent loop in this process"}}


def pause_out(state: PauseState | None) -> PauseOut:
    """The kill switch as the API shows it."""
    if state is None:
        return PauseOut(paused=False)
    return PauseOut(paused=True, since=state.since, by=state.by, reason=state.reason)


def build_router(control: GateControl | None) -> APIRouter:
    """Routes that stop and restart every action; 503 when no agent runs here."""
    router = APIRouter(tags=["control"])

    def need() -> GateControl:
        if control is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no agent loop runs here")
        return control

    @router.post("/pause", responses=_NO_AGENT)
    async def pause(body: Annotated[PauseIn | None, Body()] = None) -> PauseOut:
        """Refuse every action from now on, until resumed; survives a restart of setpoint."""
        asked = body or PauseIn()
        return pause_out(need().pause(asked.by, asked.reason))

    @router.post("/resume", responses=_NO_AGENT)
    async def resume(body: Annotated[PauseIn | None, Body()] = None) -> PauseOut:
        """Let actions through the gate again."""
        need().resume((body or PauseIn()).by)
        return pause_out(None)

    return router
