"""``setpoint decisions --stats``, ``setpoint backup`` and ``setpoint restore``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from setpoint.cli.main import app
from setpoint.knowledge.open import open_store
from setpoint.model import OutcomeStatus
from tests.contract.test_knowledge_stores import decision, outcome
from tests.postgres import throwaway_schema


def invoke(*args: str | Path) -> Result:
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, [str(a) for a in args])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A store with three restarts (two succeeded) and one failed kill, a day apart."""
    directory = tmp_path / "data"
    directory.mkdir()
    with open_store(None, directory) as store:
        rows = [
            ("d1", "service.restart", OutcomeStatus.SUCCESS, 1.0),
            ("d2", "service.restart", OutcomeStatus.FAILED, -1.0),
            ("d3", "process.kill", OutcomeStatus.PARTIAL, 0.0),
            ("d4", "service.restart", OutcomeStatus.SUCCESS, 1.0),
        ]
        for i, (made_id, action, status, reward) in enumerate(rows):
            made = decision(made_id, 86400.0 * i, action=action)
            store.decisions.record(made)
            store.decisions.record_outcome(outcome(made_id, made.ts + 5, status, reward))
    return directory


def test_stats_json(data_dir: Path) -> None:
    result = invoke("decisions", "--stats", "--json", "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["total"] == 4
    assert stats["outcomes"] == {"SUCCESS": 2, "PARTIAL": 1, "FAILED": 1}
    assert stats["success_rate"] == 0.5
    assert stats["by_action"]["service.restart"]["rate"] == pytest.approx(2 / 3)
    assert stats["by_action"]["process.kill"]["partial"] == 1
    reward = stats["reward"]
    assert (reward["buckets"], reward["first"], reward["last"], reward["change"]) == (4, 1, 1, 0)
    assert reward["mean"] == pytest.approx(0.25)


def test_stats_table_and_since(data_dir: Path) -> None:
    result = invoke("decisions", "--stats", "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    assert "success rate" in result.output and "50%" in result.output
    assert "service.restart" in result.output and "67%" in result.output
    late = invoke("decisions", "--stats", "--json", "--since", "150000", "--data-dir", data_dir)
    assert json.loads(late.output)["total"] == 2


def test_backup_and_restore_sqlite(data_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "backup.db"
    assert invoke("backup", file, "--data-dir", data_dir).exit_code == 0
    again = invoke("backup", file, "--data-dir", data_dir)
    assert again.exit_code == 1 and "exists" in again.output

    fresh = tmp_path / "fresh"
    restored = invoke("restore", file, "--data-dir", fresh)
    assert restored.exit_code == 0, restored.output
    assert "decisions" in restored.output
    before = invoke("decisions", "--stats", "--json", "--data-dir", data_dir).output
    assert invoke("decisions", "--stats", "--json", "--data-dir", fresh).output == before

    refused = invoke("restore", file, "--data-dir", fresh)
    assert refused.exit_code == 1 and "--force" in refused.output
    assert invoke("restore", file, "--force", "--data-dir", fresh).exit_code == 0


def test_backup_postgresql_and_restore_into_sqlite(data_dir: Path, tmp_path: Path) -> None:
    with throwaway_schema() as (url, _):
        into_pg = invoke("restore", tmp_path / "none.db", "--store-url", url)
        assert into_pg.exit_code == 1 and "no backup file" in into_pg.output
        sqlite_copy = tmp_path / "copy.db"
        assert invoke("backup", sqlite_copy, "--data-dir", data_dir).exit_code == 0
        assert invoke("restore", sqlite_copy, "--store-url", url).exit_code == 0
        dump = tmp_path / "pg.jsonl.gz"
        result = invoke("backup", dump, "--store-url", url)
        assert result.exit_code == 0, result.output
        assert "Dump written" in result.output
        pg_stats = invoke("decisions", "--stats", "--json", "--store-url", url).output
    back = tmp_path / "back"
    assert invoke("restore", dump, "--data-dir", back).exit_code == 0
    assert invoke("decisions", "--stats", "--json", "--data-dir", back).output == pg_stats
