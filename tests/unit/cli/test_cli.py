"""The command line against a real SQLite store and real config files."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from setpoint.cli.main import app
from setpoint.config import load_config
from setpoint.knowledge.sqlite import open_sqlite_store
from setpoint.model import (
    AuditEntry,
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

T0 = 1_700_000_000.0

GOOD = """\
version: 1
mode: dry-run
services:
  web:
    command: ["python3", "-m", "http.server", "18080"]
    probe: {http: "http://127.0.0.1:18080/"}
"""


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner(env={"COLUMNS": "250", **(env or {})})
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir whose store holds one healed incident and one resolved one."""
    with open_sqlite_store(tmp_path / "setpoint.db") as store:
        store.incidents.save(
            Incident("inc-web", "service:web", T0, IncidentStatus.OPEN, ("service.unhealthy",))
        )
        store.incidents.save(
            Incident("inc-old", "host", T0 - 900, IncidentStatus.RESOLVED, ("anomaly",), T0 - 600)
        )
        store.symptoms.record(
            Symptom(
                "service.unhealthy",
                "service:web",
                T0,
                evidence={
                    "series": "probe.ok",
                    "value": 0.0,
                    "expected": [1, 1],
                    "score": 9.5,
                    "model": "probe",
                    "reason": "2 probes failed in a row",
                },
                id="sym-1",
                incident_id="inc-web",
            )
        )
        store.decisions.record(
            Decision(
                id="dec-1",
                ts=T0 + 1,
                trigger="service.unhealthy",
                entity="service:web",
                incident_id="inc-web",
                playbook="unstick-web",
                action="service.restart",
                target="web",
                params={},
                verdict=Verdict(VerdictStatus.EXECUTE, GateMode.AUTO, "within restart budget"),
                preview="restart web: stop pid 4242; start python3 -m http.server 18080",
                state_before={"pid": 4242, "probe_ok": False},
                symptom_id="sym-1",
            )
        )
        for ts, actor, event in [(T0 + 1, "gate", "verdict"), (T0 + 2, "executor", "apply")]:
            store.audit.append(AuditEntry(ts, actor, event, "web", {"ok": True}, "dec-1"))
        store.decisions.record_outcome(
            Outcome(
                "dec-1",
                T0 + 5,
                OutcomeStatus.SUCCESS,
                {"pid": 5151, "probe_ok": True},
                1.0,
                "probe passed in 0.2s",
            )
        )
    return tmp_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def agent_url() -> Iterator[str]:
    """A real HTTP server answering /status as the agent does."""
    snapshot = {
        "loop_ok": True,
        "mode": "auto",
        "last_tick_at": T0,
        "sensors": {"host": {"up": True, "since": T0, "last_error": None}},
        "services": {"web": {"running": True, "pid": 5151, "probe_ok": True}},
        "open_incidents": [{"id": "inc-live", "entity": "service:web", "opened_at": T0}],
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(snapshot).encode()
            self.send_response(200 if self.path == "/status" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


# config check and init


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    result = invoke("config", "check", path)
    assert result.exit_code == 0, result.output
    ok, summary = result.output.splitlines()
    assert ok == f"{path}: ok"
    assert summary == "mode dry-run, every 1s; services: web; playbooks: none"


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            GOOD.replace("version: 1", "version: 1\ncolour: blue").replace(
                '"http://127.0.0.1:18080/"}', '"http://127.0.0.1:18080/", timeout: -1}'
            ),
            ["colour: unknown field", "services.web.probe.timeout: Input should be greater than 0"],
        ),
        (
            GOOD
            + "playbooks:\n  - name: fix\n    when: {symptom: service.down, service: db}\n"
            + "    do: [{action: service.restart}]\n",
            ["playbooks[0].when.service: no service named 'db' (known: web)"],
        ),
        (
            GOOD
            + "thresholds: [{series: service.cpu_percent, service: wbe, above: 90}]\n"
            + "forecast: {series: [host.load1, {series: service.rss_bytes, service: db}]}\n",
            [
                "thresholds[0].service: no service named 'wbe' (known: web)",
                "forecast.series[1].service: no service named 'db' (known: web)",
            ],
        ),
    ],
    ids=["unknown-field-and-negative-timeout", "missing-service", "threshold-forecast-service"],
)
def test_config_check_lists_every_problem_with_its_path(
    tmp_path: Path, text: str, problems: list[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = invoke("config", "check", path)
    assert result.exit_code == 2
    head, *lines = result.output.splitlines()
    assert head == f"{path}: {len(problems)} problem(s)"
    assert sorted(line.strip() for line in lines) == sorted(problems)


def test_config_check_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = invoke("config", "check", tmp_path / "absent.yaml")
    assert result.exit_code == 2
    assert "cannot read the file" in result.output


def test_init_writes_the_example_and_it_passes_check(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "setpoint.yaml"
    result = invoke("init", path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert "restart-web" in text
    assert "unstick-web" in text
    checked = invoke("config", "check", path)
    assert checked.exit_code == 0, checked.output
    assert checked.output.splitlines()[1] == (
        "mode auto, every 1s; services: web; playbooks: restart-web, unstick-web"
    )


def test_example_comments_state_the_true_defaults(tmp_path: Path) -> None:
    """Uncommenting every block the example shows as defaults changes nothing."""
    example = tmp_path / "example.yaml"
    invoke("init", example)
    lines, inside, blocks = [], False, 0
    for line in example.read_text().splitlines():
        starts = re.match(r"# [a-z_]+:", line) is not None
        blocks += starts
        inside = starts or (inside and line != "")
        lines.append(line.removeprefix("# ") if inside else line)
    assert blocks == 17
    with_defaults = tmp_path / "with-defaults.yaml"
    with_defaults.write_text("\n".join(lines) + "\n")
    assert load_config(with_defaults) == load_config(example)


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "setpoint.yaml"
    path.write_text("mine")
    refused = invoke("init", path)
    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert path.read_text() == "mine"
    forced = invoke("init", path, "--force")
    assert forced.exit_code == 0
    assert path.read_text().startswith("# setpoint configuration")


# reading commands


def test_incidents_table(data_dir: Path) -> None:
    result = invoke("incidents", "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    assert result.output.index("inc-web") < result.output.index("inc-old")
    assert "service.unhealthy" in result.output


def test_incidents_json_filtered_by_status(data_dir: Path) -> None:
    result = invoke("incidents", "--data-dir", data_dir, "--status", "resolved", "--json")
    assert result.exit_code == 0, result.output
    [incident] = json.loads(result.output)
    assert (incident["id"], incident["resolved_at"]) == ("inc-old", T0 - 600)


def test_decisions_table(data_dir: Path) -> None:
    result = invoke("decisions", "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    expected = ("dec-1", "service.unhealthy", "service.restart (unstick-web)", "execute", "SUCCESS")
    for text in expected:
        assert text in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), ["dec-1"]),
        (("--outcome", "success"), ["dec-1"]),
        (("--outcome", "FAILED"), []),
        (("--mode", "auto"), ["dec-1"]),
        (("--mode", "dry-run"), []),
        (("--since", "1h"), []),
        (("--since", str(T0)), ["dec-1"]),
        (("--since", "2023-11-14T22:13:22Z"), []),
    ],
)
def test_decisions_json_filters(data_dir: Path, args: tuple[str, ...], expected: list[str]) -> None:
    result = invoke("decisions", "--data-dir", data_dir, "--json", *args)
    assert result.exit_code == 0, result.output
    assert [d["id"] for d in json.loads(result.output)] == expected


@pytest.mark.parametrize("args", [("--mode", "fast"), ("--since", "someday")])
def test_decisions_refuse_bad_filters(data_dir: Path, args: tuple[str, ...]) -> None:
    result = invoke("decisions", "--data-dir", data_dir, *args)
    assert result.exit_code == 2
    assert args[1] in result.output


def test_explain_shows_the_chain(data_dir: Path) -> None:
    result = invoke("explain", "dec-1", "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    out = result.output
    chain = [
        "series=probe.ok value=0.0 expected=[1, 1] score=9.5 model=probe",  # evidence
        "inc-web",  # the incident
        "unstick-web",  # the playbook
        "execute (mode auto)",  # the verdict
        "within restart budget",  # and why
        "stop pid 4242",  # the preview
        "executor",  # the audit trail
        "SUCCESS",  # the outcome
        "probe passed in 0.2s",
    ]
    positions = [out.index(text) for text in chain]
    assert positions == sorted(positions)
    assert any("pid" in line and "4242" in line and "5151" in line for line in out.splitlines())


def test_explain_json(data_dir: Path) -> None:
    result = invoke("explain", "dec-1", "--data-dir", data_dir, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["decision"]["outcome"] == "SUCCESS"
    assert found["incident"]["id"] == "inc-web"
    assert [s["id"] for s in found["symptoms"]] == ["sym-1"]
    assert [e["event"] for e in found["audit"]] == ["verdict", "apply"]


def test_explain_unknown_decision_exits_1(data_dir: Path) -> None:
    result = invoke("explain", "nope", "--data-dir", data_dir)
    assert result.exit_code == 1
    assert "no decision 'nope'" in result.output


@pytest.mark.parametrize("command", ["incidents", "decisions", "explain"])
def test_reading_without_a_store_exits_1_and_creates_nothing(tmp_path: Path, command: str) -> None:
    args = ["explain", "dec-1"] if command == "explain" else [command]
    result = invoke(*args, env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert result.exit_code == 1
    assert f"no knowledge store at {tmp_path / 'xdg' / 'setpoint' / 'setpoint.db'}" in result.output
    assert not (tmp_path / "xdg").exists()


def test_status_falls_back_to_the_store_when_nothing_listens(data_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke("status", "--url", url, "--data-dir", data_dir)
    assert result.exit_code == 1
    assert f"agent not reachable at {url}" in result.output
    assert "inc-web" in result.output
    assert "inc-old" not in result.output


def test_status_json_fallback(data_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke("status", "--url", url, "--data-dir", data_dir, "--json")
    assert result.exit_code == 1
    found = json.loads(result.output)
    assert (found["url"], found["reachable"]) == (url, False)
    assert [i["id"] for i in found["open_incidents"]] == ["inc-web"]


def test_status_shows_the_agents_report(agent_url: str, tmp_path: Path) -> None:
    result = invoke("status", "--url", agent_url, "--data-dir", tmp_path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"agent at {agent_url}: loop ok" in out
    for text in ("sensors", "host", "services", "5151", "open_incidents", "inc-live"):
        assert text in out


def test_status_json_from_the_agent(agent_url: str) -> None:
    result = invoke("status", "--url", agent_url, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["reachable"] is True
    assert found["status"]["services"]["web"]["pid"] == 5151
