"""A throwaway schema on the test PostgreSQL server, for tests of the PostgreSQL store.

The server is ``$SETPOINT_TEST_POSTGRES`` (default: the local trust-auth server,
database ``test``). Each test gets a schema of its own, ``sp_test_<random>``, dropped
with everything in it afterwards; nothing else in the database is touched. Without
psycopg or without a reachable server the test is skipped, saying why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SERVER = os.environ.get("SETPOINT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def server_or_skip() -> str:
    """The test server's URL; skips the test when psycopg or the server is missing."""
    psycopg = pytest.importorskip("psycopg", reason="the pg extra (psycopg) is not installed")
    try:
        psycopg.connect(SERVER, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {SERVER}: {exc}")
    return SERVER


def run(sql: str, schema: str | None = None, server: str = SERVER) -> list[tuple[object, ...]]:
    """Run one statement on the test server (or ``server``), in ``schema`` when given."""
    import psycopg

    options = f"-c search_path={schema}" if schema else ""
    with psycopg.connect(server, autocommit=True, options=options) as conn:
        cursor = conn.execute(sql.encode())
        return list(cursor.fetchall()) if cursor.description else []


@contextmanager
def throwaway_schema(server: str | None = None) -> Iterator[tuple[str, str]]:
    """Yield ``(store URL, schema name)`` for a new schema, dropped on the way out.

    The schema is on the test server, or on ``server`` when given.
    """
    server = server or server_or_skip()
    schema = f"sp_test_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{server}?schema={schema}", schema
    finally:
        run(f"DROP SCHEMA IF EXISTS {schema} CASCADE", server=server)
