"""A real ``setpoint run`` saves what its attention tier learned and a restart restores it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.integration.harness import RunningAgent, wait_for

Factory = Callable[..., RunningAgent]
CONFIG = "version: 1\ninterval: 1s\nknowledge: {state_every: 1s}\n"


def saved_at(data_dir: Path) -> float | None:
    """When the stored attention state was saved, read behind the agent's back."""
    conn = sqlite3.connect(data_dir / "setpoint.db")
    try:
        row = conn.execute("SELECT saved_at FROM detector_state WHERE name = 'peripheral'")
        found = row.fetchone()
    finally:
        conn.close()
    return None if found is None else float(found[0])


def test_a_restarted_agent_starts_with_what_the_last_one_learned(agent_factory: Factory) -> None:
    first = agent_factory(CONFIG).start()
    wait_for(lambda: "peripheral: no saved state" in first.log.read_text(), 10, "a fresh start")
    series = wait_for(lambda: first.get("/status")["series"], 10, "host series")
    periodic = wait_for(lambda: saved_at(first.data_dir), 15, "a periodic save")
    first.stop()
    on_stop = saved_at(first.data_dir)
    assert on_stop is not None and on_stop > periodic

    second = agent_factory(CONFIG).start()  # the same data dir
    wait_for(lambda: "peripheral: restored state" in second.log.read_text(), 10, "a restore")
    assert second.get("/status")["series"] >= series
    assert "saved state not used" not in second.log.read_text()
