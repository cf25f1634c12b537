from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from setpoint.config.loader import default_actuators
from setpoint.config.models import Config
from setpoint.daemon import Agent
from setpoint.events.base import INCIDENTS, OUTCOMES
from setpoint.knowledge.graph import EdgeKind, NodeKind
from setpoint.knowledge.graph_linker import GraphLinker, problem_node, solution_node
from setpoint.knowledge.sqlite import SQLiteStore, open_sqlite_store
from setpoint.model import (
    Decision,
    GateMode,
    Incident,
    IncidentStatus,
    Outcome,
    OutcomeStatus,
    Symptom,
    Verdict,
    VerdictStatus,
)

INCIDENT = Incident(
    "i1", "service:web", 10.0, IncidentStatus.RESOLVED, ("service.unhealthy",), resolved_at=20.0
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = open_sqlite_store(tmp_path / "k.db")
    yield opened
    opened.close()


def decide(decision_id: str, status: VerdictStatus, signal: str | None = None) -> Decision:
    action = "service.signal" if signal else "service.restart"
    return Decision(
        id=decision_id,
        ts=11.0,
        trigger="service.unhealthy service:web",
        entity="service:web",
        incident_id="i1",
        playbook="heal-web",
        action=action,
        target="service:web",
        params={"signal": signal} if signal else {},
        verdict=Verdict(status, GateMode.AUTO, "test"),
    )


def record_incident(store: SQLiteStore) -> None:
    store.incidents.save(INCIDENT)
    reason = "pid 4242 is stopped (state T), e.g. by SIGSTOP"
    symptom = Symptom("service.unhealthy", "service:web", 10.0, evidence={"reason": reason})
    store.symptoms.record(replace(symptom, incident_id="i1"))


def test_resolved_incident_links_problem_solutions_and_outcomes(store: SQLiteStore) -> None:
    record_incident(store)
    store.decisions.record(decide("d1", VerdictStatus.EXECUTE, "SIGHUP"))
    store.decisions.record_outcome(Outcome("d1", 12.0, OutcomeStatus.FAILED))
    store.decisions.record(decide("d2", VerdictStatus.EXECUTE))
    store.decisions.record_outcome(Outcome("d2", 13.0, OutcomeStatus.SUCCESS))
    store.decisions.record(decide("d3", VerdictStatus.DRY_RUN))
    problem = GraphLinker(store).link_incident(INCIDENT)
    assert problem.title == "service.unhealthy on service:web"
    assert "pid N is stopped" in problem.body
    hup = solution_node("service.signal", {"signal": "SIGHUP"})
    restart = solution_node("service.restart", {})
    assert store.graph.success_rate(hup.id, problem.id).rate == 0.0
    assert store.graph.success_rate(restart.id).rate == 1.0
    solves = store.graph.edges(problem.id, EdgeKind.SOLVES, incoming=True)
    assert {e.src for e in solves} == {hup.id, restart.id}
    assert len(store.graph.nodes(NodeKind.SOLUTION)) == 2


def test_the_same_problem_again_is_one_node(store: SQLiteStore) -> None:
    record_incident(store)
    linker = GraphLinker(store)
    first = linker.link_incident(INCIDENT)
    linker.link_incident(INCIDENT)
    (stored,) = store.graph.nodes(NodeKind.PROBLEM)
    assert stored.id == first.id and stored.attrs["incidents"] == 2


def test_an_outcome_after_the_incident_is_counted_once(store: SQLiteStore) -> None:
    record_incident(store)
    store.decisions.record(decide("d1", VerdictStatus.EXECUTE))
    linker = GraphLinker(store)
    problem = linker.link_incident(INCIDENT)
    restart = solution_node("service.restart", {})
    assert store.graph.success_rate(restart.id).tried == 0
    late = Outcome("d1", 30.0, OutcomeStatus.SUCCESS)
    linker.on_outcome(late)
    linker.on_outcome(late)
    linker.on_outcome(Outcome("unknown", 30.0, OutcomeStatus.FAILED))
    stats = store.graph.success_rate(restart.id, problem.id)
    assert (stats.successes, stats.tried) == (1, 1)


def test_problem_text_is_stable_across_pids() -> None:
    def node_for(pid: int) -> str:
        s = Symptom("service.down", "service:w", 0.0, evidence={"reason": f"pid {pid} killed"})
        return problem_node(Incident("x", "service:w", 0.0, kinds=("service.down",)), [s]).text

    assert node_for(1) == node_for(99999)


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_agent_links_resolved_incidents_off_the_loop(
    store: SQLiteStore, tmp_path: Path, enabled: bool
) -> None:
    record_incident(store)
    store.decisions.record(decide("d1", VerdictStatus.EXECUTE))
    config = Config.model_validate({"sensors": {"host": False}, "graph": {"enabled": enabled}})
    agent = Agent(config, store, tmp_path, default_actuators())
    await agent.bus.publish(INCIDENTS, replace(INCIDENT, status=IncidentStatus.OPEN))
    await agent.bus.publish(INCIDENTS, INCIDENT)
    store.decisions.record_outcome(Outcome("d1", 21.0, OutcomeStatus.SUCCESS))
    await agent.bus.publish(OUTCOMES, Outcome("d1", 21.0, OutcomeStatus.SUCCESS))
    await asyncio.wait_for(agent.writer.drain(), 10)
    restart = store.graph.success_rate(solution_node("service.restart", {}).id)
    assert restart.successes == (1 if enabled else 0)
    assert len(store.graph.nodes(NodeKind.PROBLEM)) == (1 if enabled else 0)
