"""``setpoint bench nab`` and ``nab-score`` on a tiny corpus in NAB's layout."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from setpoint.cli.main import app

runner = CliRunner()
START = datetime(2014, 4, 1)


def stamp(i: int) -> str:
    return (START + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")


def write_corpus(root: Path) -> Path:
    """Two categories, three files; one spike per 'with' file, inside its window."""
    rng = np.random.default_rng(0)
    windows: dict[str, list[list[str]]] = {}
    for category, name, spike in [
        ("artificialWithAnomaly", "spiky.csv", 400),
        ("artificialWithAnomaly", "late.csv", 500),
        ("artificialNoAnomaly", "calm.csv", None),
    ]:
        folder = root / "data" / category
        folder.mkdir(parents=True, exist_ok=True)
        values = 10 + rng.normal(0, 1, 600)
        if spike is not None:
            values[spike:] += 25.0
            windows[f"{category}/{name}"] = [
                [stamp(spike - 10) + ".000000", stamp(spike + 20) + ".000000"]
            ]
        else:
            windows[f"{category}/{name}"] = []
        with (folder / name).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value"])
            w.writerows([stamp(i), f"{v:.3f}"] for i, v in enumerate(values))
    (root / "combined_windows.json").write_text(json.dumps(windows))
    return root


def test_nab_writes_the_official_results_format(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "nab")
    out = tmp_path / "results"

    result = runner.invoke(app, ["bench", "nab", "--data", str(data), "--out", str(out)])

    assert result.exit_code == 0, result.output
    path = out / "onset" / "artificialWithAnomaly" / "onset_spiky.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"]
    assert len(rows) == 600 and rows[0]["timestamp"] == stamp(0)
    scores = [float(r["anomaly_score"]) for r in rows]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert [int(r["label"]) for r in rows].count(1) == 31
    assert min(i for i, s in enumerate(scores) if s > 0.99) == 400  # found at its onset


def test_nab_score_scores_every_detector(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "nab")
    out = tmp_path / "results"
    for detector in ("onset", "rolling_median"):
        args = ["bench", "nab", "--data", str(data), "--out", str(out), "--detector", detector]
        assert runner.invoke(app, args).exit_code == 0

    result = runner.invoke(
        app, ["bench", "nab-score", "--results", str(out), "--data", str(data), "--json"]
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert sorted(report) == ["onset", "rollingmedian"]
    assert report["onset"]["standard"]["normalised"] > 90
    assert report["onset"]["standard"]["windows"] == 2


def test_nab_score_refuses_missing_results(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "nab")
    (tmp_path / "results" / "none" / "artificialNoAnomaly").mkdir(parents=True)
    (tmp_path / "results" / "none" / "artificialNoAnomaly" / "none_calm.csv").write_text("x\n")

    result = runner.invoke(
        app,
        [
            "bench",
            "nab-score",
            "--results",
            str(tmp_path / "results" / "none"),
            "--data",
            str(data),
        ],
    )

    assert result.exit_code != 0
    assert "anomaly_score" in result.output


def test_nab_score_names_a_missing_file(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "nab")
    (tmp_path / "results" / "none" / "other").mkdir(parents=True)
    (tmp_path / "results" / "none" / "other" / "none_x.csv").write_text("x\n")
    args = [
        "bench",
        "nab-score",
        "--results",
        str(tmp_path / "results" / "none"),
        "--data",
        str(data),
    ]

    result = runner.invoke(app, args)

    assert result.exit_code != 0
    assert "no results for" in result.output


def test_nab_refuses_an_unknown_detector(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "nab")
    args = ["bench", "nab", "--data", str(data), "--out", str(tmp_path), "--detector", "nope"]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
