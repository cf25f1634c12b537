"""``setpoint forecast`` against a real SQLite store filled with daily patterns."""

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


LEVELS = {"host": 2.0, "service:web": 100.0, "service:api": 500.0}
"""Where each entity's series swings around: host.load1, and each service's RSS (MB)."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days, one sample a minute, following a daily sine around each level.

    The host's host.load1, and service.rss_bytes of two services, web and api.
    """
    directory = tmp_path_factory.mktemp("forecast")
    now = time.time()
    ts = np.arange(now - 3 * 86400, now, 60.0)
    rng = np.random.default_rng(3)
    with open_store(None, directory) as store:
        for entity, level in LEVELS.items():
            key = "host.load1" if entity == "host" else "service.rss_bytes"
            values = level + np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 0.05, ts.size)
            batch = [
                Sample(key, float(v), float(t), entity) for t, v in zip(ts, values, strict=True)
            ]
            store.samples.append(batch)
    return directory


def test_forecast_prints_each_horizon_with_intervals(data_dir: Path) -> None:
    code, out, _ = run("forecast", "host.load1", "--data-dir", str(data_dir))
    assert code == 0, out
    assert "host.load1 (host): ETS(A,N,A) season 96 on 3d of 15m buckets" in out
    for label in ("1h", "6h", "1d", "80% interval", "95% interval"):
        assert label in out


def test_forecast_json_follows_the_daily_shape(data_dir: Path) -> None:
    code, out, _ = run(
        "forecast", "host.load1", "--horizon", "1h,12h", "--json", "--data-dir", str(data_dir)
    )
    assert code == 0
    made = json.loads(out)
    assert made["key"] == "host.load1" and made["entity"] == "host"
    assert made["history"] in (287, 288)
    assert [p["horizon"] for p in made["points"]] == [3600.0, 43200.0]
    for point in made["points"]:
        expected = 2 + np.sin(2 * np.pi * (point["ts"] - 450) / 86400)
        assert abs(point["mean"] - expected) < 0.25
        (eighty, ninety_five) = point["intervals"]
        assert ninety_five["lower"] < eighty["lower"] < eighty["upper"] < ninety_five["upper"]


def test_unknown_series_names_itself_and_what_exists(data_dir: Path) -> None:
    code, _, err = run("forecast", "host.nope", "--data-dir", str(data_dir))
    assert code == 1
    assert "no samples of 'host.nope' on host" in err
    assert "series seen recently on host: host.load1" in err


@pytest.mark.parametrize("entity", ["service:web", "service:api"])
def test_entity_picks_one_services_series(data_dir: Path, entity: str) -> None:
    args = ("forecast", "service.rss_bytes", "--entity", entity, "--data-dir", str(data_dir))
    code, out, _ = run(*args, "--json")
    assert code == 0, out
    made = json.loads(out)
    assert made["key"] == "service.rss_bytes" and made["entity"] == entity
    for point in made["points"]:
        expected = LEVELS[entity] + np.sin(2 * np.pi * (point["ts"] - 450) / 86400)
        assert abs(point["mean"] - expected) < 0.25  # both services mixed would be 200 off
    code, out, _ = run(*args)
    assert code == 0 and f"service.rss_bytes ({entity}): ETS(A,N,A)" in out


def test_series_missing_on_the_entity_names_where_it_is(data_dir: Path) -> None:
    code, _, err = run("forecast", "service.rss_bytes", "--data-dir", str(data_dir))
    assert code == 1 and "no samples of 'service.rss_bytes' on host in the last 14d" in err
    assert "'service.rss_bytes' is stored for service:api, service:web (use --entity)" in err
    code, _, err = run("forecast", "service.fds", "-e", "service:web", "--data-dir", str(data_dir))
    assert code == 1 and "no samples of 'service.fds' on service:web" in err
    assert "series seen recently on service:web: service.rss_bytes" in err
    code, _, err = run(
        "forecast", "host.load1", "--entity", "service:gone", "--data-dir", str(data_dir)
    )
    assert code == 1 and "'host.load1' on service:gone" in err
    assert "'host.load1' is stored for host (use --entity)" in err


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
