"""A real ``setpoint run`` with the foveal tier on turns a real service's memory step
into one ``degradation`` symptom, with its evidence, in an incident."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tests.integration.harness import RunningAgent, wait_for

Factory = Callable[..., RunningAgent]

# 12 s small, then about 80 MB more, held until the agent stops it.
HOG = "import time; time.sleep(12); kept = bytearray(80_000_000); time.sleep(300)"

CONFIG = f"""\
version: 1
mode: observe
interval: 1s
services:
  hog:
    command: ["{sys.executable}", "-c", "{HOG}"]
attention: {{warmup: 5, refresh: 1, seasons: []}}
foveal:
  enabled: true
  revisit: 1s
  changepoint: {{sustain: 4s, min_size: 2}}
  forest: {{enabled: false}}
"""


def degradation(agent: RunningAgent) -> dict[str, Any] | None:
    for incident in agent.get("/incidents", entity="service:hog"):
        if "degradation" in incident["kinds"]:
            detail = agent.get(f"/incidents/{incident['id']}")
            found: dict[str, Any] = next(
                s for s in detail["symptoms"] if s["kind"] == "degradation"
            )
            return found
    return None


def test_a_sustained_memory_step_is_one_degradation_with_evidence(agent_factory: Factory) -> None:
    agent = agent_factory(CONFIG).start()
    symptom = wait_for(lambda: degradation(agent), 60, "a degradation symptom")

    ev = symptom["evidence"]
    assert ev["series"] == "service.rss_bytes"
    assert ev["model"].startswith("ruptures.")
    assert ev["worse"] == "up"
    # About 80 MB more; the new level is judged on the few ticks ``sustain`` asks for,
    # and a reading taken while the hog writes its bytearray may be one of them.
    assert ev["after"] - ev["before"] > 30_000_000
    assert ev["relative_change"] > 0.2
    assert symptom["state"] == "firing"
    assert "foveal attention is off" not in agent.log.read_text()
