"""The ``failure`` section: defaults, the example block, and errors named by place."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from setpoint.config.failure import FailureConfig
from setpoint.config.loader import parse_config
from setpoint.errors import ConfigError


def test_the_example_block_is_valid_once_uncommented_and_holds_the_defaults() -> None:
    example = files("setpoint.config").joinpath("example.yaml").read_text(encoding="utf-8")
    block = re.search(r"^# failure:\n(?:#  .*\n)+", example, re.MULTILINE)
    assert block is not None
    text = "\n".join(line[2:] for line in block.group(0).splitlines())
    assert parse_config(text).failure == FailureConfig()


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        ("failure: {threshold: 0.3}", "failure: clear_below (0.5) must not exceed threshold (0.3)"),
        ("failure: {threshold: 1.5}", "failure.threshold: Input should be less than or equal to 1"),
        ("failure: {label_kinds: []}", "failure.label_kinds: List should have at least 1 item"),
        ("failure: {retrain_every: soon}", "failure.retrain_every: 'soon' is not a duration"),
        ("failure: {nice: 20}", "failure.nice: Input should be less than or equal to 19"),
        ("failure: {horizon: 1h}", "failure.horizon: unknown field"),
    ],
)
def test_bad_values_are_named_by_place(yaml: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_retraining_can_be_turned_off() -> None:
    assert parse_config("failure: {retrain_every: null}").failure.retrain_every is None
