"""``setpoint chaos`` end to end: a real agent heals real faults with no collateral."""

from __future__ import annotations

import json
import subprocess
import sys


def test_chaos_crash_hang_error_heal_without_collateral():
    done = subprocess.run(
        [sys.executable, "-m", "setpoint", "chaos", "crash", "hang", "error", "--json"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["scenario"] for r in results] == ["crash", "hang", "error"], done.stderr
    for r in results:
        assert r["detected"] and r["healed"], r
        assert r["collateral"] == [], r
        assert 0 <= r["detect_s"] <= r["heal_s"] < 10, r
        assert r["lead_s"] is None
    assert done.returncode == 0
