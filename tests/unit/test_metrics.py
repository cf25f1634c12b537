"""The agent's Prometheus gauges: the last reading of every series."""

from __future__ import annotations

from prometheus_client import generate_latest

from setpoint.metrics import AgentMetrics
from setpoint.model import Sample


def test_each_service_keeps_its_own_gauge_line() -> None:
    metrics = AgentMetrics()
    metrics.series.update(
        [
            Sample("service.rss_bytes", 100.0, 1.0, "service:web"),
            Sample("service.rss_bytes", 200.0, 1.0, "service:api"),
        ]
    )
    text = generate_latest(metrics.registry).decode()
    assert 'service="web"} 100.0' in text and 'service="api"} 200.0' in text
