"""A real ``setpoint run`` stores its service's probe results as series, each probe once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.integration.harness import RunningAgent, free_port, wait_for, web_config

Factory = Callable[..., RunningAgent]


def stored(data_dir: Path, series: str) -> list[tuple[float, float]]:
    """The stored (ts, value) of one series of ``service:web``, read behind the agent's back."""
    conn = sqlite3.connect(data_dir / "setpoint.db")
    try:
        rows = conn.execute(
            "SELECT ts, value FROM samples WHERE series = ? AND entity = 'service:web' ORDER BY ts",
            (series,),
        ).fetchall()
    finally:
        conn.close()
    return [(float(ts), float(value)) for ts, value in rows]


def test_the_agent_stores_probe_latency_and_error_rate(agent_factory: Factory) -> None:
    extra = "knowledge: {sample_every: 1s}\nfoveal: {enabled: false}\n"
    agent = agent_factory(web_config(free_port(), extra=extra)).start()
    latency = wait_for(
        lambda: len(rows := stored(agent.data_dir, "service.probe.latency_ms")) >= 3 and rows,
        30,
        f"three stored probe latencies (log: {agent.log})",
    )
    metrics = httpx.get(f"{agent.url}/metrics", timeout=5).text
    agent.stop()
    errors = stored(agent.data_dir, "service.probe.error_rate")

    assert all(value > 0 for _, value in latency)
    stamps = [ts for ts, _ in latency]
    assert len(set(stamps)) == len(stamps)  # one row per probe, never a stale repeat
    assert errors and all(value == 0.0 for _, value in errors)  # a healthy service
    assert 'setpoint_service_probe_latency_ms{service="web"}' in metrics
    assert 'setpoint_service_probe_error_rate{service="web"}' in metrics
