"""``setpoint bench mv`` and ``mv-score`` on a tiny synthetic corpus in ASD's layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from setpoint.analyze.foveal.checks import labelled_rows
from setpoint.cli.main import app

runner = CliRunner()


def write_corpus(root: Path) -> Path:
    """Two entities of correlated metrics with correlation-breaking test segments."""
    root.mkdir()
    for seed, name in enumerate(["omi-a", "omi-b"]):
        train, test, labels = labelled_rows(200, seed=seed)
        np.savez(
            root / f"{name}.npz",
            train=train.astype(np.float32),
            test=test.astype(np.float32),
            test_label=labels.astype(np.int64),
        )
    return root


def test_mv_writes_one_score_per_test_row(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "asd")
    out = tmp_path / "results"
    result = runner.invoke(app, ["bench", "mv", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 entities written" in result.output
    lines = (out / "omi-a.csv").read_text().split()
    assert lines[0] == "score" and len(lines) == 201


def test_mv_score_reports_every_entity_and_the_mean(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "asd")
    out = tmp_path / "results"
    for detector in ("knn", "iforest"):
        args = ["bench", "mv", "--data", str(data), "--out", str(out / detector)]
        assert runner.invoke(app, [*args, "--detector", detector]).exit_code == 0
    result = runner.invoke(
        app, ["bench", "mv-score", "--results", str(out / "knn"), "--data", str(data), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"omi-a", "omi-b", "mean"}
    assert report["mean"]["f1"] > 0.5
    assert report["mean"]["f1_pa"] >= report["mean"]["f1"]
    table = runner.invoke(
        app, ["bench", "mv-score", "--results", str(out / "iforest"), "--data", str(data)]
    )
    assert table.exit_code == 0 and "PA%K-AUC" in table.output and "mean" in table.output


def test_mv_rejects_an_unknown_detector_and_short_results(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "asd")
    out = tmp_path / "results"
    unknown = ["bench", "mv", "--data", str(data), "--out", str(out), "--detector", "nope"]
    result = runner.invoke(app, unknown)
    assert result.exit_code != 0 and "nope" in result.output
    out.mkdir()
    (out / "omi-a.csv").write_text("score\n0.5\n")
    (out / "omi-b.csv").write_text("score\n0.5\n")
    result = runner.invoke(app, ["bench", "mv-score", "--results", str(out), "--data", str(data)])
    assert result.exit_code != 0 and "200 rows" in result.output
