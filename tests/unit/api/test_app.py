"""The HTTP API over a real SQLite store, through FastAPI's TestClient."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter
from starlette.exceptions import StarletteDeprecationWarning

from setpoint.api.app import create_app
from setpoint.clock import ManualClock
from setpoint.knowledge.sqlite import SQLiteStore, open_sqlite_store
from setpoint.model import (
    Decision,
    GateMode,
    Incident,
    IncidentStatus,
    OperationalMode,
    Outcome,
    OutcomeStatus,
    Symptom,
    Verdict,
    VerdictStatus,
)

with warnings.catch_warnings():
    # Starlette's test client asks for httpx2; the project depends on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

T0 = 472_222 * 3600.0
"""An hour boundary (2023-11-14T22:00:00Z) that is also a two-hour boundary."""


class FixedStatus:
    """A status provider reporting a fixed snapshot."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot

    def status(self) -> dict[str, Any]:
        return self.snapshot


def decision(
    id: str,
    ts: float,
    mode: GateMode = GateMode.AUTO,
    operational_mode: OperationalMode = OperationalMode.BALANCED,
) -> Decision:
    status = VerdictStatus.EXECUTE if mode is GateMode.AUTO else VerdictStatus.DRY_RUN
    return Decision(
        id=id,
        ts=ts,
        trigger="service.down",
        entity="service:web",
        incident_id="inc-web",
        playbook="restart-web",
        action="service.restart",
        target="web",
        params={},
        verdict=Verdict(status, mode, f"{mode} allows it"),
        operational_mode=operational_mode,
        preview="restart web: stop pid 42; start python3 -m http.server",
        state_before={"pid": 42, "up": False},
        symptom_id="sym-down",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with open_sqlite_store(tmp_path / "setpoint.db", ManualClock(T0 + 9000)) as store:
        store.incidents.save(
            Incident("inc-web", "service:web", T0, IncidentStatus.OPEN, ("service.down",))
        )
        store.incidents.save(
            Incident("inc-host", "host", T0 - 1000, IncidentStatus.RESOLVED, ("anomaly",), T0 - 500)
        )
        store.symptoms.record(
            Symptom(
                "service.down",
                "service:web",
                T0,
                evidence={"series": "service.up", "value": 0.0, "reason": "process exited"},
                id="sym-down",
                incident_id="inc-web",
            )
        )
        store.decisions.record(decision("d1", T0 + 10))
        store.decisions.record_outcome(
            Outcome("d1", T0 + 20, OutcomeStatus.SUCCESS, {"pid": 43, "up": True}, 1.0)
        )
        store.decisions.record(decision("d2", T0 + 3700))
        store.decisions.record_outcome(Outcome("d2", T0 + 3710, OutcomeStatus.FAILED, {}, -1.0))
        store.decisions.record(
            decision("d3", T0 + 7300, GateMode.DRY_RUN, OperationalMode.ENERGY_EFFICIENT)
        )
        store.decisions.record(decision("d4", T0 + 7400))
        store.decisions.record_outcome(Outcome("d4", T0 + 7410, OutcomeStatus.PARTIAL, {}, 0.5))
        yield store


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("setpoint_test_ticks", "Loop ticks in this test.", registry=registry).inc()
    return registry


@pytest.fixture
def client(store: SQLiteStore, registry: CollectorRegistry) -> TestClient:
    return TestClient(create_app(store, FixedStatus({"loop_ok": True, "ticks": 7}), registry))


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_healthz_is_ok_while_the_loop_turns(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_healthz_is_503_when_the_loop_stalled(store: SQLiteStore) -> None:
    app = create_app(store, FixedStatus({"loop_ok": False}), CollectorRegistry())
    response = TestClient(app).get("/healthz")
    assert (response.status_code, response.json()) == (503, {"status": "stalled"})


def test_healthz_without_a_loop_is_ok(store: SQLiteStore) -> None:
    response = TestClient(create_app(store, None, CollectorRegistry())).get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_status_returns_the_providers_snapshot(client: TestClient) -> None:
    response = client.get("/status")
    assert (response.status_code, response.json()) == (200, {"loop_ok": True, "ticks": 7})


def test_status_is_503_without_a_provider(store: SQLiteStore) -> None:
    response = TestClient(create_app(store, None, CollectorRegistry())).get("/status")
    assert response.status_code == 503
    assert "no agent loop" in response.json()["detail"]


def test_metrics_exposes_the_registry_in_prometheus_text_format(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "setpoint_test_ticks_total 1.0" in response.text.splitlines()


def test_incidents_newest_first_and_filtered(client: TestClient) -> None:
    assert ids(client.get("/incidents")) == ["inc-web", "inc-host"]
    assert ids(client.get("/incidents", params={"status": "resolved"})) == ["inc-host"]
    assert ids(client.get("/incidents", params={"entity": "service:web"})) == ["inc-web"]
    assert ids(client.get("/incidents", params={"limit": 1})) == ["inc-web"]


@pytest.mark.parametrize(
    ("params", "name"),
    [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"status": "closed"}, "status")],
)
def test_incidents_refuse_bad_filters(
    client: TestClient, params: dict[str, Any], name: str
) -> None:
    response = client.get("/incidents", params=params)
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{name}: ")


def test_incident_comes_with_its_symptoms_and_evidence(client: TestClient) -> None:
    body = client.get("/incidents/inc-web").json()
    assert (body["id"], body["status"], body["kinds"]) == ("inc-web", "open", ["service.down"])
    [symptom] = body["symptoms"]
    assert symptom["id"] == "sym-down"
    assert symptom["evidence"]["reason"] == "process exited"


def test_unknown_incident_is_404(client: TestClient) -> None:
    assert client.get("/incidents/nope").status_code == 404


def test_decisions_newest_first(client: TestClient) -> None:
    assert ids(client.get("/decisions")) == ["d4", "d3", "d2", "d1"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"mode": "dry-run"}, ["d3"]),
        ({"mode": "ENERGY_EFFICIENT"}, ["d3"]),
        ({"mode": "auto", "outcome": "SUCCESS"}, ["d1"]),
        ({"outcome": "FAILED"}, ["d2"]),
        ({"outcome": "PARTIAL"}, ["d4"]),
        ({"start_time": T0 + 3700, "end_time": T0 + 7300}, ["d3", "d2"]),
        ({"start_time": "2023-11-14T23:00:00Z"}, ["d4", "d3", "d2"]),
        ({"end_time": "2023-11-15T00:05:00+01:00"}, ["d2", "d1"]),
        ({"limit": 2}, ["d4", "d3"]),
    ],
)
def test_decisions_filters(client: TestClient, params: dict[str, Any], expected: list[str]) -> None:
    assert ids(client.get("/decisions", params=params)) == expected


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"mode": "fast"}, "mode"),
        ({"outcome": "WIN"}, "outcome"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": "nan"}, "end_time"),
        ({"start_time": T0 + 10, "end_time": T0}, "end_time"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
    ],
)
def test_decisions_refuse_bad_filters_naming_the_parameter(
    client: TestClient, params: dict[str, Any], name: str
) -> None:
    response = client.get("/decisions", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith(f"{name}: ")
    assert body["detail"][0]["loc"][:2] == ["query", name]


def test_decision_has_the_seed_fields_and_how_it_was_reached(client: TestClient) -> None:
    body = client.get("/decisions/d1").json()
    assert body["timestamp"] == T0 + 10
    assert body["trigger"] == "service.down"
    assert body["operational_mode"] == "BALANCED"
    assert body["state_before"] == {"pid": 42, "up": False}
    assert body["state_after"] == {"pid": 43, "up": True}
    assert (body["outcome"], body["reward_signal"], body["human_feedback"]) == ("SUCCESS", 1, None)
    assert (body["gate_mode"], body["verdict"], body["outcome_ts"]) == ("auto", "execute", T0 + 20)
    assert body["actions_taken"]


def test_unknown_decision_is_404(client: TestClient) -> None:
    assert client.get("/decisions/nope").status_code == 404


def test_feedback_is_stored_and_the_updated_decision_returned(client: TestClient) -> None:
    response = client.post("/decisions/d2/feedback", json={"rating": -1, "comment": "too early"})
    assert response.status_code == 200
    assert response.json()["id"] == "d2"
    assert response.json()["human_feedback"] == {"rating": -1, "comment": "too early"}
    assert client.get("/decisions/d2").json()["human_feedback"]["rating"] == -1


def test_feedback_for_an_unknown_decision_is_404(client: TestClient) -> None:
    assert client.post("/decisions/nope/feedback", json={"rating": 1}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 5},
        {"rating": "1"},
        {"rating": 1, "comment": "x" * 2001},
        {"rating": 1, "by": "me"},
        {"comment": "no rating"},
    ],
)
def test_feedback_refuses_a_bad_body(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/decisions/d1/feedback", json=body)
    assert response.status_code == 422
    assert client.get("/decisions/d1").json()["human_feedback"] is None


def test_success_rate_counts_applied_decisions(client: TestClient) -> None:
    body = client.get("/decisions/analytics/success_rate").json()
    assert (body["total"], body["success"], body["partial"], body["failed"]) == (3, 1, 1, 1)
    assert body["rate"] == pytest.approx(1 / 3)
    assert body["by_action"]["service.restart"]["total"] == 3


def test_success_rate_within_a_window(client: TestClient) -> None:
    params: dict[str, str | float] = {
        "start_time": T0 + 3600,
        "end_time": datetime.fromtimestamp(T0 + 9000, UTC).isoformat(),
    }
    body = client.get("/decisions/analytics/success_rate", params=params).json()
    assert (body["total"], body["failed"], body["partial"], body["rate"]) == (2, 1, 1, 0.0)


def test_success_rate_of_an_empty_window_has_no_rate(client: TestClient) -> None:
    body = client.get("/decisions/analytics/success_rate", params={"end_time": T0}).json()
    assert (body["total"], body["rate"]) == (0, None)


def test_reward_trend_defaults_to_hourly_buckets(client: TestClient) -> None:
    points = client.get("/decisions/analytics/reward_trend").json()
    assert points == [
        {"bucket_start": T0, "mean_reward": 1.0, "count": 1},
        {"bucket_start": T0 + 3600, "mean_reward": -1.0, "count": 1},
        {"bucket_start": T0 + 7200, "mean_reward": 0.5, "count": 1},
    ]


@pytest.mark.parametrize("bucket", ["2h", "7200", "120m"])
def test_reward_trend_buckets_by_seconds_or_duration(client: TestClient, bucket: str) -> None:
    points = client.get("/decisions/analytics/reward_trend", params={"bucket": bucket}).json()
    assert points == [
        {"bucket_start": T0, "mean_reward": 0.0, "count": 2},
        {"bucket_start": T0 + 7200, "mean_reward": 0.5, "count": 1},
    ]


def test_reward_trend_within_a_window(client: TestClient) -> None:
    params = {"start_time": T0 + 3600, "end_time": T0 + 7200}
    points = client.get("/decisions/analytics/reward_trend", params=params).json()
    assert [p["bucket_start"] for p in points] == [T0 + 3600]


@pytest.mark.parametrize("bucket", ["0", "-1h", "soon"])
def test_reward_trend_refuses_a_bad_bucket(client: TestClient, bucket: str) -> None:
    response = client.get("/decisions/analytics/reward_trend", params={"bucket": bucket})
    assert response.status_code == 422
    assert response.json()["message"].startswith("bucket: ")


def test_openapi_lists_every_route_with_title_and_version(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "setpoint"
    assert spec["info"]["version"]
    assert set(spec["paths"]) == {
        "/healthz",
        "/status",
        "/metrics",
        "/incidents",
        "/incidents/{incident_id}",
        "/decisions",
        "/decisions/{decision_id}",
        "/decisions/{decision_id}/feedback",
        "/decisions/analytics/success_rate",
        "/decisions/analytics/reward_trend",
        "/approvals",
        "/approvals/{decision_id}/approve",
        "/approvals/{decision_id}/deny",
        "/pause",
        "/resume",
    }
    assert client.get("/docs").status_code == 200
