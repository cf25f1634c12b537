"""``GET /metrics``: the Prometheus text exposition of one registry."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4


def build_router(registry: CollectorRegistry) -> APIRouter:
    """Routes exposing ``registry`` for Prometheus to scrape."""
    router = APIRouter(tags=["metrics"])

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}},
    )
    def metrics() -> Response:
        """Every metric of the agent in the Prometheus text format 0.0.4."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return router
