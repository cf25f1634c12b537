"""IncidentTracker: grouping per entity, quiet-time resolution, escalation."""

from __future__ import annotations

from setpoint.analyze.incidents import IncidentTracker
from setpoint.model import IncidentStatus, Symptom, SymptomState

WEB, DB = "service:web", "service:db"


def fire(kind: str, entity: str = WEB, ts: float = 100.0) -> Symptom:
    return Symptom(kind, entity, ts)


def test_symptoms_of_one_entity_group_into_one_incident() -> None:
    t = IncidentTracker(resolve_after=5.0)
    down = fire("service.down")
    first = t.on_symptom(down)
    second = t.on_symptom(fire("anomaly", ts=101.0))
    again = t.on_symptom(fire("service.down", ts=102.0))

    assert first is not None and second is not None and again is not None
    assert first.id == second.id == again.id
    assert (first.entity, first.opened_at, first.status) == (WEB, 100.0, IncidentStatus.OPEN)
    assert again.kinds == ("service.down", "anomaly"), "each kind once, in order of arrival"
    assert t.current(WEB) == again
    assert t.open_incidents() == [again]


def test_each_entity_has_its_own_incident() -> None:
    t = IncidentTracker(resolve_after=5.0)
    web = t.on_symptom(fire("service.down", WEB))
    db = t.on_symptom(fire("service.down", DB))

    assert web is not None and db is not None and web.id != db.id
    assert {i.entity for i in t.open_incidents()} == {WEB, DB}
    assert t.current("host") is None


def test_resolves_only_after_every_symptom_cleared_and_the_quiet_time() -> None:
    t = IncidentTracker(resolve_after=5.0)
    down, anomaly = fire("service.down", ts=100.0), fire("anomaly", ts=101.0)
    t.on_symptom(down)
    t.on_symptom(anomaly)

    t.on_symptom(down.cleared(110.0, {"reason": "probe passed"}))
    assert t.tick(200.0) == [], "the anomaly still fires"

    t.on_symptom(anomaly.cleared(210.0, {}))
    assert t.tick(214.9) == []
    [resolved] = t.tick(215.0)

    assert resolved.status is IncidentStatus.RESOLVED and resolved.resolved_at == 215.0
    assert resolved.kinds == ("service.down", "anomaly")
    assert t.current(WEB) is None and t.open_incidents() == []
    assert t.tick(300.0) == [], "resolved once"


def test_a_new_symptom_in_the_quiet_time_keeps_the_incident_open() -> None:
    t = IncidentTracker(resolve_after=5.0)
    down = fire("service.down", ts=100.0)
    opened = t.on_symptom(down)
    t.on_symptom(down.cleared(101.0, {}))
    again = fire("service.down", ts=103.0)
    joined = t.on_symptom(again)

    assert opened is not None and joined is not None and joined.id == opened.id
    assert t.tick(107.0) == []
    t.on_symptom(again.cleared(110.0, {}))
    [resolved] = t.tick(115.0)
    assert resolved.id == opened.id


def test_after_resolution_a_new_symptom_opens_a_new_incident() -> None:
    t = IncidentTracker(resolve_after=0.0)
    down = fire("service.down")
    first = t.on_symptom(down)
    t.on_symptom(down.cleared(101.0, {}))
    t.tick(101.0)

    second = t.on_symptom(fire("service.down", ts=102.0))

    assert first is not None and second is not None and second.id != first.id
    assert second.opened_at == 102.0


def test_escalation_sticks_until_resolved() -> None:
    t = IncidentTracker(resolve_after=5.0)
    down = fire("service.down")
    t.on_symptom(down)

    escalated = t.escalate(WEB, "budget exhausted")
    joined = t.on_symptom(fire("service.unhealthy", ts=101.0))

    assert escalated is not None and joined is not None
    assert (escalated.status, escalated.reason) == (IncidentStatus.ESCALATED, "budget exhausted")
    assert joined.status is IncidentStatus.ESCALATED, "a new symptom does not reopen it"
    assert joined.kinds == ("service.down", "service.unhealthy")

    t.on_symptom(down.cleared(102.0, {}))
    current = t.current(WEB)
    assert current is not None and current.status is IncidentStatus.ESCALATED
    assert t.escalate(DB, "nothing open") is None


def test_a_cleared_symptom_unknown_to_the_tracker_changes_nothing() -> None:
    t = IncidentTracker(resolve_after=0.0)
    stranger = fire("service.down").cleared(101.0, {})
    assert t.on_symptom(stranger) is None
    assert t.open_incidents() == []

    down = fire("service.down")
    opened = t.on_symptom(down)
    other = fire("service.down")  # fired before a restart of the tracker, say

    assert t.on_symptom(other.cleared(102.0, {})) is None
    assert t.on_symptom(Symptom("service.down", WEB, 103.0, SymptomState.CLEARED)) is None
    assert t.tick(1000.0) == [], "the known symptom still fires"
    assert t.current(WEB) == opened
