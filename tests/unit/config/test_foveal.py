"""The ``foveal`` section: defaults, the example file's block, errors named by their path."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from setpoint.config import parse_config
from setpoint.errors import ConfigError


def test_defaults_are_on_and_durations_are_read() -> None:
    assert parse_config("version: 1\n").foveal.enabled
    section = parse_config(
        "foveal:\n"
        "  enabled: true\n"
        "  budget: 20ms\n"
        "  changepoint: {sustain: 2m, rules: [{suffix: queue_depth, worse: up}]}\n"
        "  forest: {refit_every: 30m}\n"
    ).foveal
    assert section.budget == 0.02 and section.changepoint.sustain == 120.0
    assert section.changepoint.worse("svc.queue_depth") == "up"
    assert section.changepoint.worse("web.latency") is None  # the rules were replaced
    assert section.forest.refit_every == 1800.0


def test_the_example_files_block_is_valid_once_uncommented() -> None:
    example = files("setpoint.config").joinpath("example.yaml").read_text(encoding="utf-8")
    block = re.search(r"^# foveal:\n(?:#  .*\n)+", example, re.MULTILINE)
    assert block is not None
    text = "\n".join(line[2:] for line in block.group(0).splitlines())
    section = parse_config(text).foveal
    assert section.budget == 0.05 and section.forest.refit_every == 3600.0
    assert section.enabled and section.nice == 10


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        (
            "foveal: {changepoint: {rules: [{suffix: x, worse: sideways}]}}",
            "foveal.changepoint.rules[0].worse: Input should be 'up' or 'down'",
        ),
        ("foveal: {budget: soon}", "foveal.budget: 'soon' is not a duration"),
        ("foveal: {forest: {trees: 0}}", "foveal.forest.trees: Input should be greater than"),
        ("foveal: {forest: {window: 40}}", "foveal.forest: window (40) must not exceed recent"),
        ("foveal: {history: 100}", "foveal: history (100 ticks) must hold forest.min_rows"),
        ("foveal: {fovea: 1}", "foveal.fovea: unknown field"),
    ],
)
def test_bad_values_are_named_by_their_path(yaml: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(yaml)
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems
