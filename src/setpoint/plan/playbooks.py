"""Declared playbooks: when a symptom matches, propose their actions.

A ``do`` playbook proposes its steps in order. A ``choose: learned`` playbook proposes
one of its candidates per try, chosen by :class:`~setpoint.plan.learned.LearnedChooser`
from what earlier outcomes taught; each retry chooses again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from setpoint.config.models import PlaybookConfig
from setpoint.errors import ConfigError
from setpoint.model import Symptom, SymptomState, service_entity
from setpoint.plan.learned import LearnedChooser


@dataclass(frozen=True)
class Proposal:
    """One action a playbook proposes for one symptom."""

    playbook: str
    action: str
    params: dict[str, Any]
    target: str
    symptom: Symptom


def matches(playbook: PlaybookConfig, symptom: Symptom) -> bool:
    """True when the playbook's ``when`` selects this firing symptom.

    >>> from setpoint.config.models import When
    >>> pb = PlaybookConfig(name="r", when=When(symptom="service.down", service="web"),
    ...                     do=[{"action": "service.restart"}])
    >>> matches(pb, Symptom("service.down", "service:web", 0.0))
    True
    >>> matches(pb, Symptom("service.down", "service:db", 0.0))
    False
    >>> cpu = PlaybookConfig(name="c", when=When(symptom="anomaly", series="service.cpu_percent"),
    ...                      do=[{"action": "service.restart"}])
    >>> matches(cpu, Symptom("anomaly", "service:web", 0.0, evidence={"series": "service.fds"}))
    False
    """
    when = playbook.when
    if symptom.state is not SymptomState.FIRING or symptom.kind != when.symptom:
        return False
    if when.service is not None and symptom.entity != service_entity(when.service):
        return False
    if when.series is not None and symptom.evidence.get("series") != when.series:
        return False
    return when.entity is None or symptom.entity == when.entity


class PlaybookPlanner:
    """Finds the playbooks that answer a symptom and proposes their actions.

    >>> import asyncio
    >>> from setpoint.config.models import When
    >>> pb = PlaybookConfig(name="r", when=When(symptom="service.down"),
    ...                     do=[{"action": "service.restart"}])
    >>> planner = PlaybookPlanner([pb])
    >>> symptom = Symptom("service.down", "service:web", 0.0)
    >>> [p.action for p in asyncio.run(planner.propose(planner.matching(symptom)[0], symptom))]
    ['service.restart']
    """

    def __init__(
        self, playbooks: Sequence[PlaybookConfig], chooser: LearnedChooser | None = None
    ) -> None:
        self.playbooks = list(playbooks)
        self.chooser = chooser
        if chooser is None and any(pb.choose for pb in self.playbooks):
            raise ConfigError(["playbooks: choose: learned needs a chooser"], "planner")

    def matching(self, symptom: Symptom) -> list[PlaybookConfig]:
        """The playbooks whose ``when`` selects this firing symptom, in declared order."""
        return [pb for pb in self.playbooks if matches(pb, symptom)]

    async def propose(self, playbook: PlaybookConfig, symptom: Symptom) -> list[Proposal]:
        """The proposals (run in order) of one try of ``playbook`` for ``symptom``."""
        if playbook.do is not None or self.chooser is None:
            steps = [(step.action, step.params) for step in playbook.steps]
        else:
            arm = (await self.chooser.choose(playbook.name, playbook.steps, symptom)).arm
            steps = [(arm.action, arm.params)]
        return [
            Proposal(playbook.name, action, params, symptom.entity, symptom)
            for action, params in steps
        ]
