"""The PostgreSQL store: URLs and secrets, migrations, extensions, a second process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import setpoint.knowledge
from setpoint.config.models import Config
from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import DecisionFilter
from setpoint.knowledge.migrate import load_migrations
from setpoint.knowledge.open import open_store
from setpoint.knowledge.postgres import KNOWN_EXTENSIONS, PostgresStore, open_postgres_store
from setpoint.model import Decision, GateMode, Verdict, VerdictStatus
from tests.postgres import run, server_or_skip, throwaway_schema

SRC = Path(setpoint.knowledge.__file__).resolve().parents[2]
SECRET = "hunter2-not-logged"


@pytest.fixture
def schema() -> Iterator[tuple[str, str]]:
    with throwaway_schema() as made:
        yield made


def make_decision(decision_id: str, ts: float) -> Decision:
    return Decision(
        id=decision_id,
        ts=ts,
        trigger="t",
        entity="host",
        incident_id=None,
        playbook="p",
        action="a",
        target="x",
        params={},
        verdict=Verdict(VerdictStatus.EXECUTE, GateMode.AUTO, "ok"),
    )


def test_unreachable_server_names_it_without_the_password(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://setpoint:{SECRET}@127.0.0.1:1/test?schema=sp_nowhere"
    with pytest.raises(KnowledgeError) as caught:
        open_store(url, tmp_path)
    message = str(caught.value)
    assert SECRET not in message
    assert "postgresql://setpoint:***@127.0.0.1:1/test (schema sp_nowhere)" in message
    assert "cannot connect" in message
    assert SECRET not in repr(PostgresStore(url))


def test_password_in_the_query_is_hidden_too(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://127.0.0.1:1/test?password={SECRET}"
    with pytest.raises(KnowledgeError) as caught:
        open_store(url, tmp_path)
    assert SECRET not in str(caught.value) and "password=***" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"postgresql://u:{SECRET}@db/test?schema=Bad-Name", "schema 'Bad-Name' must be"),
        (f"mysql://u:{SECRET}@db/test", "no knowledge backend named 'mysql'"),
        ("sqlite://relative.db", "not an SQLite store URL"),
    ],
)
def test_bad_urls_are_knowledge_errors(url: str, message: str, tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(KnowledgeError, match=message) as caught:
        open_store(url, tmp_path)
    assert SECRET not in str(caught.value)


def test_config_checks_the_scheme_and_hides_the_url() -> None:
    with pytest.raises(ValueError, match="scheme must be one of sqlite, postgresql"):
        Config.model_validate({"knowledge": {"url": "mysql://db/x"}})
    config = Config.model_validate(
        {"knowledge": {"url": f"postgresql://u:{SECRET}@db/test?schema=a"}}
    )
    assert config.knowledge.url is not None
    assert SECRET not in repr(config) and SECRET not in str(config)


def test_migrations_apply_once_and_every_file_is_used(schema: tuple[str, str]) -> None:
    url, name = schema
    expected = [(m.version, m.name) for m in load_migrations("postgresql")]
    for _ in range(3):
        open_store(url, Path("/nonexistent")).close()
    assert run("SELECT version, name FROM schema_migrations ORDER BY version", name) == expected
    assert expected[:2] == [(1, "initial"), (2, "rollups")]
    tables = {row[0] for row in run("SELECT tablename FROM pg_tables", name) if row}
    assert {"decisions", "samples_hourly", "rollup_marks", "audit"} <= tables


def test_newer_schema_is_refused(schema: tuple[str, str]) -> None:
    url, name = schema
    open_postgres_store(url).close()
    run("INSERT INTO schema_migrations VALUES (999, 'future', 0)", name)
    with pytest.raises(KnowledgeError, match="schema version 999 is newer") as caught:
        open_postgres_store(url)
    assert f"schema {name}" in str(caught.value)


def test_extensions_found_are_recorded(schema: tuple[str, str]) -> None:
    url, _ = schema
    available = {
        str(row[0])
        for row in run("SELECT name FROM pg_available_extensions")
        if row[0] in KNOWN_EXTENSIONS
    }
    with open_postgres_store(url) as store:
        assert store.features == frozenset(available)


def test_each_store_stays_in_its_schema(tmp_path: Path) -> None:
    with (
        throwaway_schema() as (first, _),
        throwaway_schema() as (second, _),
        open_postgres_store(first) as a,
        open_postgres_store(second) as b,
    ):
        a.decisions.record(make_decision("only-in-a", 1.0))
        assert [r.id for r in a.decisions.list()] == ["only-in-a"]
        assert b.decisions.list() == []


CHILD = textwrap.dedent(
    """
    import sys, time
    from setpoint.knowledge.postgres import open_postgres_store
    from setpoint.model import Decision, GateMode, Sample, Verdict, VerdictStatus

    store = open_postgres_store(sys.argv[1])
    deadline = time.monotonic() + 30.0
    i = 0
    while i < int(sys.argv[2]) and time.monotonic() < deadline:
        store.decisions.record(Decision(
            id=f"d{i:04d}", ts=float(i), trigger="t", entity="host", incident_id=None,
            playbook="p", action="a", target="x", params={"i": i},
            verdict=Verdict(VerdictStatus.EXECUTE, GateMode.AUTO, "ok"),
        ))
        store.samples.append([Sample("load", float(j), float(i)) for j in range(20)])
        i += 1
    store.close()
    print(i, flush=True)
    """
)


def test_a_second_process_reads_while_one_writes(schema: tuple[str, str]) -> None:
    url, _ = schema
    server_or_skip()
    total = 300
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    with open_postgres_store(url) as reader:
        seen: list[int] = []
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(total)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as child:
            deadline = time.monotonic() + 60.0
            while child.poll() is None and time.monotonic() < deadline:
                seen.append(len(reader.decisions.list(DecisionFilter(limit=total))))
                reader.samples.query(limit=50)
            out, err = child.communicate(timeout=30.0)
        assert child.returncode == 0, err
        assert int(out) == total
        assert seen == sorted(seen)
        assert len(reader.decisions.list(DecisionFilter(limit=total))) == total
        assert len(reader.samples.query(key="load", limit=10_000)) == total * 20
