"""``setpoint learn``, ``setpoint similar`` and the runbooks section of ``explain``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.cli.test_cli import data_dir, invoke  # noqa: F401

RUNBOOKS = Path(__file__).parents[2] / "fixtures" / "runbooks"


def test_learn_creates_the_store_and_reports_sections(tmp_path: Path) -> None:
    result = invoke("learn", RUNBOOKS / "disk-full.md", "--data-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert "disk-full.md: 5 section(s)" in result.output
    assert (tmp_path / "setpoint.db").is_file()


def test_similar_table_and_json(tmp_path: Path) -> None:
    files = sorted(RUNBOOKS.glob("*.md"))
    assert invoke("learn", *files, "--data-dir", tmp_path).exit_code == 0
    table = invoke("similar", "no space left on the disk", "--data-dir", tmp_path)
    assert table.exit_code == 0, table.output
    assert "Disk full" in table.output
    result = invoke(
        "similar", "process frozen by SIGSTOP", "--json", "--limit", "2", "--data-dir", tmp_path
    )
    rows = json.loads(result.output)
    assert len(rows) == 2 and rows[0]["kind"] == "runbook"
    assert rows[0]["attrs"]["source"] == "web-frozen.md"
    assert rows[0]["score"] >= rows[1]["score"]


def test_similar_with_nothing_learned(data_dir: Path) -> None:  # noqa: F811
    result = invoke("similar", "anything", "--embedder", "chargram", "--data-dir", data_dir)
    assert result.exit_code == 0 and "nothing similar known yet" in result.output


def test_unknown_embedder_is_an_error(tmp_path: Path) -> None:
    result = invoke(
        "learn", RUNBOOKS / "disk-full.md", "--embedder", "nope", "--data-dir", tmp_path
    )
    assert result.exit_code == 1
    assert "no embedder named 'nope'" in result.output


def test_explain_shows_relevant_runbooks(data_dir: Path) -> None:  # noqa: F811
    before = invoke("explain", "dec-1", "--data-dir", data_dir)
    assert "Relevant runbooks" in before.output and "none learned" in before.output
    files = sorted(RUNBOOKS.glob("*.md"))
    assert invoke("learn", *files, "--data-dir", data_dir).exit_code == 0
    found = json.loads(invoke("explain", "dec-1", "--json", "--data-dir", data_dir).output)
    assert len(found["runbooks"]) == 3
    assert found["runbooks"][0]["attrs"]["source"] == "web-frozen.md"
    shown = invoke("explain", "dec-1", "--data-dir", data_dir)
    assert "Web service not answering" in shown.output
