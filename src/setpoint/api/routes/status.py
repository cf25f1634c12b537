"""``GET /status``: the live agent's own snapshot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from setpoint.api.schemas import StatusProvider


def build_router(provider: StatusProvider | None) -> APIRouter:
    """Routes exposing the agent's status snapshot; 503 when no agent runs here."""
    router = APIRouter(tags=["status"])

    @router.get("/status", responses={503: {"description": "no agent loop in this process"}})
    def get_status() -> dict[str, Any]:
        """Loop health, sensors, services and open incidents, as the agent reports them."""
        if provider is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no agent loop runs here")
        return provider.status()

    return router
