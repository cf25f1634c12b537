from __future__ import annotations

from pathlib import Path

from setpoint.knowledge.runbooks import split_sections

RUNBOOKS = Path(__file__).parents[2] / "fixtures" / "runbooks"


def test_sections_keep_heading_paths() -> None:
    text = (RUNBOOKS / "disk-full.md").read_text()
    titles = [s.title for s in split_sections(text, "disk-full.md")]
    assert titles == [
        "Disk full",
        "Disk full > Symptoms",
        "Disk full > Diagnosis",
        "Disk full > Remediation > Journal",
        "Disk full > Remediation > Old logs",
    ]


def test_code_blocks_are_not_headings() -> None:
    text = (RUNBOOKS / "disk-full.md").read_text()
    diagnosis = next(s for s in split_sections(text, "x") if s.title.endswith("Diagnosis"))
    assert "# this is a shell comment, not a heading" in diagnosis.body


def test_text_without_headings_is_one_section() -> None:
    (section,) = split_sections("just a note\non two lines\n", "note.md")
    assert (section.title, section.body) == ("note.md", "just a note\non two lines")
    assert split_sections("", "empty.md") == []


def test_setext_headings_and_levels_going_back_up() -> None:
    text = "Top\n===\nintro\n## A\na\n### A1\na1\n## B\nb\n"
    titles = [s.title for s in split_sections(text, "x")]
    assert titles == ["Top", "Top > A", "Top > A > A1", "Top > B"]
