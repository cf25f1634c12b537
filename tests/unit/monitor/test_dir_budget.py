"""Budgeted directories: what the walk counts, when it runs, and their exhaustion forecast.

Real files in a temporary directory; the clock is a ManualClock, so "time" passes
without sleeping and one file write stands for many seconds of a real writer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from setpoint.analyze.exhaustion import ExhaustionWatch, ResourcePolicy
from setpoint.analyze.trend import TrendPolicy
from setpoint.clock import ManualClock
from setpoint.config.models import Config, DirBudget
from setpoint.errors import SensorUnavailable
from setpoint.model import Symptom, SymptomState
from setpoint.monitor.dir_budget import DirBudgetSensor, allocated_bytes

KIB = 1024
POLICY = ResourcePolicy(horizon=60, window=120, trend=TrendPolicy(min_duration=8))


def _write(path: Path, size: int) -> None:
    path.write_bytes(os.urandom(size))


def test_the_walk_counts_files_in_subdirectories_but_never_through_links(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    (root / "sub").mkdir(parents=True)
    _write(root / "a", 64 * KIB)
    _write(root / "sub" / "b", 64 * KIB)
    outside = tmp_path / "outside"
    outside.mkdir()
    _write(outside / "big", 512 * KIB)
    (root / "link-dir").symlink_to(outside)
    (root / "link-file").symlink_to(outside / "big")

    used = allocated_bytes(root)

    assert 128 * KIB <= used < 512 * KIB


def test_the_sensor_reads_every_interval_and_names_the_directory(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    _write(tmp_path / "a", 64 * KIB)
    sensor = DirBudgetSensor("spool", DirBudget(path=tmp_path, size=KIB * KIB, every=5), clock)

    first = sensor.collect()
    clock.advance(2)
    between = sensor.collect()
    clock.advance(3)
    again = sensor.collect()

    assert {(s.series, s.entity) for s in first} == {
        ("dir.used_bytes", "dir:spool"),
        ("dir.budget_bytes", "dir:spool"),
    }
    assert next(s.value for s in first if s.series == "dir.budget_bytes") == KIB * KIB
    assert between == []
    assert len(again) == 2


def test_a_missing_directory_is_a_sensor_failure_naming_it(tmp_path: Path) -> None:
    sensor = DirBudgetSensor("spool", DirBudget(path=tmp_path / "gone", size=KIB))

    with pytest.raises(SensorUnavailable, match="gone is not a directory"):
        sensor.collect()


def test_budgets_load_from_the_disk_section_and_refuse_relative_paths() -> None:
    config = Config.model_validate(
        {"disk": {"budgets": {"spool": {"path": "/var/spool/x", "size": "64MiB"}}}}
    )
    assert config.disk.budgets["spool"].size == 64 * KIB * KIB
    assert config.disk.budgets["spool"].every == 10.0

    with pytest.raises(ValidationError, match=r"disk\.budgets\.spool\.path"):
        Config.model_validate({"disk": {"budgets": {"spool": {"path": "x", "size": "1MiB"}}}})


def _forecast(tmp_path: Path, step: Callable[[float], None], seconds: int) -> list[Symptom]:
    """Run ``step(t)`` (which writes or removes files) each 0.5 s and forecast the budget."""
    clock = ManualClock(0.0)
    sensor = DirBudgetSensor("spool", DirBudget(path=tmp_path, size=4096 * KIB, every=0.5), clock)
    watch = ExhaustionWatch({"disk": POLICY})
    out: list[Symptom] = []
    for i in range(seconds * 2):
        step(i / 2)
        out += watch.observe(sensor.collect())
        clock.advance(0.5)
    return out


def test_a_directory_filling_toward_its_budget_is_predicted(tmp_path: Path) -> None:
    def fill(t: float) -> None:  # 64 KiB/s toward 4 MiB: full at 64 s
        _write(tmp_path / f"f{t:06.1f}", 32 * KIB)

    fired = _forecast(tmp_path, fill, 40)

    assert fired, "no prediction"
    first = fired[0]
    assert (first.kind, first.entity, first.state) == (
        "disk.exhaustion_predicted",
        "dir:spool",
        SymptomState.FIRING,
    )
    assert first.evidence["series"] == "dir.budget_bytes - dir.used_bytes"
    assert first.evidence["limit"] == 4096 * KIB
    assert 0 < first.evidence["eta_s"] <= 60


def test_a_burst_written_and_removed_again_is_not_predicted(tmp_path: Path) -> None:
    burst = tmp_path / "burst"

    def spike(t: float) -> None:  # 3 MiB of a 4 MiB budget, held 10 s, then removed
        if t == 10:
            _write(burst, 3072 * KIB)
        if t == 20:
            burst.unlink()

    assert _forecast(tmp_path, spike, 40) == []
