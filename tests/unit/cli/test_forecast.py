"""``setpoint forecast`` against a real SQLite store filled with a daily pattern."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from setpoint.cli.main import app
from setpoint.knowledge.open import open_store
from setpoint.model import Sample

pytest.importorskip("statsmodels")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days of host.load1, one sample a minute, following a daily sine."""
    directory = tmp_path_factory.mktemp("forecast")
    now = time.time()
    ts = np.arange(now - 3 * 86400, now, 60.0)
    rng = np.random.default_rng(3)
    values = 2 + np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 0.05, ts.size)
    with open_store(None, directory) as store:
        batch = [Sample("host.load1", float(v), float(t)) for t, v in zip(ts, values, strict=True)]
        store.samples.append(batch)
    return directory


def test_forecast_prints_each_horizon_with_intervals(data_dir: Path) -> None:
    code, out, _ = run("forecast", "host.load1", "--data-dir", str(data_dir))
    assert code == 0, out
    assert "ETS(A,N,A) season 96 on 3d of 15m buckets" in out
    for label in ("1h", "6h", "1d", "80% interval", "95% interval"):
        assert label in out


def test_forecast_json_follows_the_daily_shape(data_dir: Path) -> None:
    code, out, _ = run(
        "forecast", "host.load1", "--horizon", "1h,12h", "--json", "--data-dir", str(data_dir)
    )
    assert code == 0
    made = json.loads(out)
    assert made["key"] == "host.load1" and made["history"] in (287, 288)
    assert [p["horizon"] for p in made["points"]] == [3600.0, 43200.0]
    for point in made["points"]:
        expected = 2 + np.sin(2 * np.pi * (point["ts"] - 450) / 86400)
        assert abs(point["mean"] - expected) < 0.25
        (eighty, ninety_five) = point["intervals"]
        assert ninety_five["lower"] < eighty["lower"] < eighty["upper"] < ninety_five["upper"]


def test_unknown_series_names_itself_and_what_exists(data_dir: Path) -> None:
    code, _, err = run("forecast", "host.nope", "--data-dir", str(data_dir))
    assert code == 1
    assert "no samples of 'host.nope'" in err and "series seen recently: host.load1" in err


def test_missing_store_and_bad_options_are_clear_errors(data_dir: Path, tmp_path: Path) -> None:
    code, _, err = run("forecast", "host.load1", "--data-dir", str(tmp_path))
    assert code == 1 and "no knowledge store at" in err
    code, _, err = run(
        "forecast", "host.load1", "--horizon", "1h,soon", "--data-dir", str(data_dir)
    )
    assert code == 2 and "'soon' is not a duration" in err
    code, _, err = run("forecast", "host.load1", "--bucket", "7m", "--data-dir", str(data_dir))
    assert code == 1 and "must be a whole number (at least 2) of buckets (420s)" in err


def test_config_file_settings_are_used(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "setpoint.yaml"
    config.write_text("version: 1\nforecast:\n  bucket: 30m\n  trend: true\n  horizons: [2h]\n")
    code, out, _ = run(
        "forecast", "host.load1", "-c", str(config), "--json", "--data-dir", str(data_dir)
    )
    assert code == 0
    made = json.loads(out)
    assert made["bucket"] == 1800.0 and made["model"] == "ETS(A,Ad,A) season 48"
    assert [p["horizon"] for p in made["points"]] == [7200.0]
    config.write_text("version: 1\nforecast:\n  levels: [95]\n")
    code, _, err = run("forecast", "host.load1", "-c", str(config), "--data-dir", str(data_dir))
    assert code == 1 and "forecast.levels" in err and "95" in err
