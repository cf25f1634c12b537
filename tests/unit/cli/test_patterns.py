"""``setpoint patterns``: list, export and import against a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from setpoint.cli.main import app
from setpoint.knowledge.open import open_store
from setpoint.knowledge.patterns import Pattern

RESTART = Pattern(
    "pat-1",
    "learned",
    {"signature": "service.unhealthy@service:web", "incidents": ["i1", "i2", "i3"]},
    {"symptom": "service.unhealthy"},
    [{"action": "service.restart"}],
    0.9,
    1_700_000_000.0,
    8.0,
    0.0,
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_export_and_import_round_trip(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with open_store(None, tmp_path / "a") as store:
        store.patterns.save([RESTART])
    code, out, _ = run("patterns", "--data-dir", str(tmp_path / "a"))
    assert code == 0 and "pat-1" in out and "service.restart" in out and "0.90" in out
    code, out, _ = run("patterns", "--json", "--data-dir", str(tmp_path / "a"))
    assert json.loads(out)[0]["successes"] == 8.0

    exported = tmp_path / "patterns.json"
    code, _, err = run(
        "patterns", "export", "--out", str(exported), "--data-dir", str(tmp_path / "a")
    )
    assert code == 0 and "exported 1" in err
    code, out, _ = run("patterns", "import", str(exported), "--data-dir", str(tmp_path / "b"))
    assert code == 0 and "imported 1" in out
    with open_store(None, tmp_path / "b") as store:
        assert store.patterns.list() == [RESTART]


def test_import_names_every_problem_and_stores_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    docs = [
        {"id": "ok", "type": "learned", "actions": [{"action": "a"}], "last_seen": 1},
        {"id": "p", "type": "learned", "actions": [{"x": 1}], "last_seen": 1, "confidence": 2},
        {"id": "ok", "type": "learned", "actions": [{"action": "a"}], "last_seen": 1, "extra": 1},
    ]
    bad.write_text(json.dumps(docs))
    code, _, err = run("patterns", "import", str(bad), "--data-dir", str(tmp_path))
    assert code == 1
    assert "[1].actions: action 0 needs an 'action' name" in err
    assert "[1].confidence: Input should be less than or equal to 1" in err
    assert "[2].extra: Extra inputs are not permitted" in err
    with open_store(None, tmp_path) as store:
        assert store.patterns.list() == []

    bad.write_text(json.dumps([docs[0], docs[0]]))
    code, _, err = run("patterns", "import", str(bad), "--data-dir", str(tmp_path))
    assert code == 1 and "[1].id: 'ok' is used twice" in err
