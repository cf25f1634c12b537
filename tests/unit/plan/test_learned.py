"""Choosing among candidates: Thompson sampling learns, UCB is deterministic, and why is kept."""

from __future__ import annotations

import asyncio

import pytest

from setpoint.config.learning import LearningConfig
from setpoint.config.models import ActionStep, PlaybookConfig, When
from setpoint.knowledge.patterns import Pattern, pattern_id
from setpoint.model import Symptom
from setpoint.plan.learned import Arm, LearnedChooser
from setpoint.plan.playbooks import PlaybookPlanner

HUP = ActionStep(action="service.signal", signal="SIGHUP")
RESTART = ActionStep(action="service.restart")


def simulate(config: LearningConfig, incidents: int = 15) -> list[str]:
    """First choice per incident when SIGHUP always fails and a restart always heals."""
    chooser = LearnedChooser(config, lambda sig: asyncio.sleep(0, []))
    counts = {"hup": [0.0, 0.0], "restart": [0.0, 0.0]}
    firsts = []
    for _ in range(incidents):
        first = None
        while True:
            arms = [
                Arm("hup", {}, "h", *counts["hup"]),
                Arm("restart", {}, "r", *counts["restart"]),
            ]
            name = arms[chooser.pick(arms)[0]].action
            first = first or name
            if name == "restart":
                counts["restart"][0] += 1
                break
            counts["hup"][1] += 1
        firsts.append(first)
    return firsts


def test_thompson_prefers_what_works_for_almost_every_seed() -> None:
    seeds = range(300)
    good = sum(simulate(LearningConfig(seed=s))[5:].count("restart") >= 9 for s in seeds)
    assert good / len(seeds) >= 0.97


def test_same_seed_same_choices() -> None:
    assert simulate(LearningConfig(seed=3)) == simulate(LearningConfig(seed=3))


def test_ucb_tries_the_unknown_then_settles() -> None:
    firsts = simulate(LearningConfig(strategy="ucb"))
    assert firsts[0] == "hup", "ties go to the first candidate"
    assert firsts[5:].count("restart") >= 9, "an ever smaller bonus still re-checks now and then"


def test_choose_reads_patterns_and_keeps_why_for_the_decision() -> None:
    sig = "service.unhealthy@service:web"
    hup_id = pattern_id(sig, "service.signal", {"signal": "SIGHUP"})
    known = [
        Pattern(hup_id, "observed", {"signature": sig}, {}, [HUP.params], 0.1, 0.0, 0, 8),
    ]

    async def patterns_of(asked: str) -> list[Pattern]:
        assert asked == sig
        return known

    chooser = LearnedChooser(LearningConfig(strategy="ucb"), patterns_of)
    symptom = Symptom("service.unhealthy", "service:web", 0.0)
    choice = asyncio.run(chooser.choose("heal-web", [HUP, RESTART], symptom))
    assert choice.arm.action == "service.restart"
    why = chooser.take_reason(symptom.id, "heal-web")
    assert why is choice and chooser.take_reason(symptom.id, "heal-web") is None
    reason = choice.reason()
    assert reason["chosen"] == "service.restart"
    assert [c["failures"] for c in reason["candidates"]] == [8, 0]
    assert "service.signal signal=SIGHUP conf 0.10" in choice.summary()


def test_learned_playbook_proposes_one_candidate_per_try() -> None:
    pb = PlaybookConfig(
        name="heal-web",
        when=When(symptom="service.unhealthy", service="web"),
        choose="learned",
        candidates=[HUP, RESTART],
    )

    async def nothing(sig: str) -> list[Pattern]:
        return []

    planner = PlaybookPlanner([pb], LearnedChooser(LearningConfig(seed=1), nothing))
    symptom = Symptom("service.unhealthy", "service:web", 0.0)
    proposals = asyncio.run(planner.propose(planner.matching(symptom)[0], symptom))
    assert len(proposals) == 1
    assert (proposals[0].action, proposals[0].params) in [
        ("service.signal", {"signal": "SIGHUP"}),
        ("service.restart", {}),
    ]


def test_learned_playbook_without_chooser_is_refused() -> None:
    from setpoint.errors import ConfigError

    pb = PlaybookConfig(name="x", when=When(symptom="s"), choose="learned", candidates=[RESTART])
    with pytest.raises(ConfigError):
        PlaybookPlanner([pb])
