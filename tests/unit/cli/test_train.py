"""``setpoint train`` and ``setpoint predict-failure`` against a real SQLite store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from setpoint.analyze.failure.files import META_FILE, MODEL_FILE, models_dir
from setpoint.cli.main import app
from setpoint.knowledge.open import open_store
from tests.unit.analyze.failure_history import FLAT, LEAKY, live_history, write_history

pytest.importorskip("xgboost", reason="training needs the ml extra")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Three days up to now; the leaky service is well into a climb."""
    directory = tmp_path_factory.mktemp("train")
    with open_store(None, directory) as store:
        live_history(store, time.time())
    yield directory


def test_train_saves_a_model_and_predict_failure_reads_it(data_dir: Path) -> None:
    code, out, err = run("train", "--data-dir", str(data_dir))
    assert code == 0, err
    assert f"failure model saved to {models_dir(data_dir) / MODEL_FILE}" in out
    assert "auc" in out and "holdout positives" in out
    code, out, _ = run("train", "--json", "--history", "3d", "--data-dir", str(data_dir))
    report = json.loads(out)
    assert code == 0 and report["metrics"]["auc"] > 0.7 and report["metrics"]["entities"] == 3

    code, out, _ = run("predict-failure", "--json", "--data-dir", str(data_dir))
    assert code == 0
    risk = {s["entity"]: s["probability"] for s in json.loads(out)["services"]}
    assert risk[LEAKY] > 0.7 and all(risk[e] < 0.05 for e in FLAT)
    code, out, _ = run("predict-failure", "--data-dir", str(data_dir))
    assert code == 0 and "held-out AUC" in out and LEAKY in out and "rss_trend" in out


def test_too_few_failures_names_the_count_needed(tmp_path: Path) -> None:
    now = time.time()
    with open_store(None, tmp_path) as store:
        write_history(store, now - 86400.0, now, every=60.0, failures=[now - 40000.0])
    code, _, err = run("train", "--data-dir", str(tmp_path))
    assert code == 1
    assert "too few failures to train on: 1 foreseen" in err
    assert "need at least 3 failures of kind service.down or service.unhealthy" in err
    assert not models_dir(tmp_path).exists()


def test_a_corrupt_model_is_named_and_training_again_replaces_it(
    data_dir: Path, tmp_path: Path
) -> None:
    code, _, err = run("predict-failure", "--data-dir", str(tmp_path))
    assert code == 1 and f"no failure model in {models_dir(tmp_path)}" in err
    assert run("train", "--data-dir", str(data_dir))[0] == 0
    (models_dir(data_dir) / MODEL_FILE).write_text("{")
    code, _, err = run("predict-failure", "--data-dir", str(data_dir))
    assert code == 1 and f"{models_dir(data_dir) / META_FILE}: unusable" in err
    assert run("train", "--data-dir", str(data_dir))[0] == 0
    assert run("predict-failure", "--data-dir", str(data_dir))[0] == 0


def test_bad_options_and_config_are_named(tmp_path: Path) -> None:
    code, _, err = run("train", "--history", "soon", "--data-dir", str(tmp_path))
    assert code == 2 and "--history" in err and "'soon' is not a duration" in err
    config = tmp_path / "setpoint.yaml"
    config.write_text("failure: {threshold: 0.4, clear_below: 0.6}\n")
    code, _, err = run("train", "--config", str(config), "--data-dir", str(tmp_path))
    assert code == 2
    assert "failure: clear_below (0.6) must not exceed threshold (0.4)" in err
    config.write_text("failure: {label_kinds: [service.down], history: 2d}\n")
    code, _, err = run("train", "--config", str(config), "--data-dir", str(tmp_path))
    assert code == 1 and "no knowledge store at" in err
