"""``GET /healthz``: liveness for probes and service managers."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from setpoint.api.schemas import HealthOut, StatusProvider


def build_router(provider: StatusProvider | None) -> APIRouter:
    """Routes answering whether the agent is alive and its loop turning."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", responses={503: {"model": HealthOut}})
    def healthz(response: Response) -> HealthOut:
        """200 while the loop turns (or no loop runs here); 503 once it has stalled."""
        if provider is not None and not provider.status().get("loop_ok", False):
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return HealthOut(status="stalled")
        return HealthOut(status="ok")

    return router
