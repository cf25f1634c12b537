"""``choose: learned`` playbooks: the issue's example loads; every mistake is named."""

from __future__ import annotations

import pytest

from setpoint.config.loader import parse_config
from setpoint.errors import ConfigError

HEAD = """\
services:
  web:
    command: ["python3", "-m", "http.server", "18080"]
playbooks:
  - name: heal-web
    when: {symptom: service.unhealthy, service: web}
"""


def problems(body: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(HEAD + body)
    return list(caught.value.problems)


def test_the_issue_example_loads() -> None:
    config = parse_config(
        HEAD
        + """\
    choose: learned
    candidates:
      - {action: service.signal, signal: SIGHUP}
      - {action: service.restart}
learning: {seed: 7, strategy: ucb}
"""
    )
    [pb] = config.playbooks
    assert pb.do is None and pb.choose == "learned"
    assert [(s.action, s.params) for s in pb.steps] == [
        ("service.signal", {"signal": "SIGHUP"}),
        ("service.restart", {}),
    ]
    assert (config.learning.seed, config.learning.strategy) == (7, "ucb")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    do: [{action: service.restart}]\n    choose: learned\n"
            "    candidates: [{action: service.restart}]\n",
            "playbooks[0]: give either do, or choose: learned with candidates, not both",
        ),
        ("", "playbooks[0]: give do (the steps) or choose: learned with candidates"),
        ("    choose: learned\n", "playbooks[0]: choose: learned needs candidates"),
        (
            "    candidates: [{action: service.restart}]\n",
            "playbooks[0]: candidates need choose: learned",
        ),
        (
            "    choose: random\n    candidates: [{action: service.restart}]\n",
            "playbooks[0].choose",
        ),
    ],
)
def test_do_xor_choose(body: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(body)), problems(body)


def test_candidate_params_are_checked_by_their_actuator() -> None:
    found = problems(
        """\
    choose: learned
    candidates:
      - {action: service.signal, signal: SIGKILL}
      - {action: service.nope}
"""
    )
    assert found[0].startswith("playbooks[0].candidates[0].signal: 'SIGKILL' is not one of")
    assert found[1].startswith("playbooks[0].candidates[1].action: no actuator named")
