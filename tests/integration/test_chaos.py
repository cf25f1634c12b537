"""``setpoint chaos`` end to end: a real agent heals real faults with no collateral."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import pytest


def _chaos(*scenarios: str, timeout: float) -> tuple[list[dict[str, Any]], int, str]:
    """Run ``setpoint chaos``; past ``timeout`` stop it with SIGTERM, so it cleans up."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpoint", "chaos", *scenarios, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
        pytest.fail(f"setpoint chaos ran past {timeout:.0f}s: {stdout}{stderr}")
    results = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert [r["scenario"] for r in results] == list(scenarios), stderr
    return results, proc.returncode, stderr


@pytest.mark.timeout(240)
def test_chaos_process_and_database_faults_heal_without_collateral() -> None:
    results, code, _ = _chaos(
        "crash", "hang", "error", "pg-idle", "pg-slow", "redis-bloat", timeout=150
    )
    for r in results:
        assert r["detected"] and r["healed"], r
        assert r["collateral"] == [], r
        assert 0 <= r["detect_s"] <= r["heal_s"] < 10, r
        assert r["lead_s"] is None
    assert code == 0


@pytest.mark.timeout(400)
def test_chaos_predicts_leak_and_disk_fill_stops_a_burn_and_lets_bursts_pass() -> None:
    scenarios = ("cpu-burst", "cpu-burn", "disk-burst", "disk-fill", "leak")
    results, code, stderr = _chaos(*scenarios, timeout=300)
    by_name = {r["scenario"]: r for r in results}

    for name in ("cpu-burst", "disk-burst"):
        harmless = by_name[name]
        assert not harmless["expect_action"], harmless
        assert not harmless["detected"] and harmless["actions"] == [], harmless
        assert harmless["healed"], harmless
    assert by_name["cpu-burn"]["actions"][0].startswith("process.ladder:"), by_name["cpu-burn"]
    assert by_name["disk-fill"]["actions"][0].startswith("disk.delete:"), by_name["disk-fill"]
    assert by_name["leak"]["actions"][0].startswith("service.restart:"), by_name["leak"]
    for name in ("cpu-burn", "disk-fill", "leak"):
        assert by_name[name]["detected"] and by_name[name]["healed"], by_name[name]
    for name in ("disk-fill", "leak"):
        assert by_name[name]["lead_s"] > 0, f"acted after the failure: {by_name[name]}"
    for r in results:
        assert r["collateral"] == [], r
        assert r["error"] is None, r
    assert code == 0, stderr
