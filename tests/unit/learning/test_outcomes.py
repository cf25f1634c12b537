"""Outcomes on the bus become evidence for their pattern; refused decisions teach nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from setpoint.config.learning import LearningConfig
from setpoint.config.models import ActionStep
from setpoint.knowledge.open import open_store
from setpoint.knowledge.writer import StoreWriter
from setpoint.learning.outcomes import OutcomeLearner, pattern_for
from setpoint.model import (
    Decision,
    GateMode,
    Outcome,
    OutcomeStatus,
    Symptom,
    Verdict,
    VerdictStatus,
)
from setpoint.plan.learned import LearnedChooser


def decision(n: int, status: VerdictStatus = VerdictStatus.EXECUTE, **kw: object) -> Decision:
    fields: dict[str, object] = {
        "id": f"d{n}",
        "ts": float(n),
        "trigger": "service.unhealthy",
        "entity": "service:web",
        "incident_id": f"i{n}",
        "playbook": "heal-web",
        "action": "service.restart",
        "target": "service:web",
        "params": {},
        "verdict": Verdict(status, GateMode.AUTO, "test"),
        "symptom_id": f"s{n}",
    }
    fields.update(kw)
    return Decision(**fields)  # type: ignore[arg-type]


def test_outcomes_update_the_pattern_and_choices_are_audited(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    writer = StoreWriter(store)

    async def patterns_of(sig: str) -> list:  # type: ignore[type-arg]
        return list(await writer.run(store.patterns.list, sig))

    chooser = LearnedChooser(LearningConfig(seed=1), patterns_of)
    learner = OutcomeLearner(writer, chooser)

    async def scenario() -> None:
        symptom = Symptom("service.unhealthy", "service:web", 0.0, id="s1")
        choice = await chooser.choose("heal-web", [ActionStep(action="service.restart")], symptom)
        assert choice.arm.action == "service.restart"
        for n, status in [(1, OutcomeStatus.SUCCESS), (2, OutcomeStatus.PARTIAL)]:
            d = decision(n)
            await writer.run(store.decisions.record, d)
            learner.on_decision(d)
            learner.on_outcome(Outcome(d.id, 10.0 + n, status))
        refused = decision(3, VerdictStatus.DRY_RUN)
        learner.on_decision(refused)
        learner.on_outcome(Outcome(refused.id, 20.0, OutcomeStatus.FAILED))
        await writer.drain()

    try:
        asyncio.run(scenario())
        found = store.patterns.get(pattern_for(decision(1)).id)
        assert found is not None
        assert (found.successes, found.failures, found.last_seen) == (1.5, 0.5, 12.0)
        assert found.contexts == ["i1", "i2"]
        [entry] = [e for e in store.audit.list("d1") if e.event == "learned-choice"]
        assert entry.detail["chosen"] == "service.restart"
    finally:
        writer.close()
