"""The FastAPI application factory: routes over a store, a live agent and its metrics.

Routes only call the store or the status provider; they hold no logic of their own.
Validation errors answer 422 with FastAPI's ``detail`` list plus a one-line
``message`` naming each bad parameter (``start_time: 'x' is not a time ...``).
"""

from __future__ import annotations

import importlib.metadata

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

import setpoint
from setpoint.api.routes import approvals, control, decisions, health, incidents, metrics
from setpoint.api.routes import status as status_routes
from setpoint.api.schemas import StatusProvider
from setpoint.config.loader import format_loc
from setpoint.execute.gate.control import GateControl
from setpoint.knowledge.base import KnowledgeStore

__all__ = ["StatusProvider", "create_app"]


def create_app(
    store: KnowledgeStore,
    status: StatusProvider | None,
    registry: CollectorRegistry,
    gate: GateControl | None = None,
) -> FastAPI:
    """Build the HTTP API over ``store``; ``status`` is None when no agent loop runs here.

    ``gate`` (the running agent's pause switch and approval desk) is None likewise.
    """
    app = FastAPI(
        title="setpoint",
        version=_version(),
        description="Incidents, decisions and outcomes of the setpoint autonomic manager.",
    )
    app.exception_handler(RequestValidationError)(_validation_error)
    app.include_router(health.build_router(status))
    app.include_router(status_routes.build_router(status))
    app.include_router(metrics.build_router(registry))
    app.include_router(incidents.build_router(store))
    app.include_router(decisions.build_router(store))
    app.include_router(approvals.build_router(store, gate))
    app.include_router(control.build_router(gate))
    return app


def _version() -> str:
    found = getattr(setpoint, "__version__", None)
    return found if isinstance(found, str) else importlib.metadata.version("setpoint")


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        f"{format_loc(error['loc'][1:])}: {error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors()
    ]
    return JSONResponse(
        status_code=422,
        content={"detail": jsonable_encoder(exc.errors()), "message": "; ".join(problems)},
    )
