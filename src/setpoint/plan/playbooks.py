"""Declared playbooks: when a symptom matches, propose their actions in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from setpoint.config.models import PlaybookConfig
from setpoint.model import Symptom, SymptomState, service_entity


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
    """
    when = playbook.when
    if symptom.state is not SymptomState.FIRING or symptom.kind != when.symptom:
        return False
    if when.service is not None and symptom.entity != service_entity(when.service):
        return False
    return when.entity is None or symptom.entity == when.entity


class PlaybookPlanner:
    """Proposes, for a firing symptom, the steps of every matching playbook."""

    def __init__(self, playbooks: Sequence[PlaybookConfig]) -> None:
        self.playbooks = list(playbooks)

    def plan(self, symptom: Symptom) -> list[list[Proposal]]:
        """One list of proposals (run in order) per matching playbook."""
        return [
            [Proposal(pb.name, step.action, step.params, symptom.entity, symptom) for step in pb.do]
            for pb in self.playbooks
            if matches(pb, symptom)
        ]
