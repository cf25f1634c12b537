"""Connections to one PostgreSQL schema: one per thread, opened on first use, closed together.

Mirrors :mod:`setpoint.knowledge.sqlite_connection`: the agent writes from one
executor thread, API workers and the CLI read from others. Connections run in
autocommit mode; :meth:`PostgresConnections.write` wraps its block in one
transaction. Repositories write ``?`` placeholders; :func:`to_pyformat` turns each
statement text into psycopg's ``%s`` style once and caches it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

from setpoint.errors import KnowledgeError
from setpoint.knowledge.postgres_url import PostgresTarget

CONNECT_TIMEOUT_S = 5
"""How long opening a connection may take before the store gives up."""


def to_pyformat(sql: str) -> str:
    r"""Turn ``?`` placeholders into ``%s`` and escape ``%``, outside quotes.

    >>> print(to_pyformat("SELECT '?%', \"a?\" FROM t WHERE x LIKE 'a%' AND y = ?"))
    SELECT '?%%', "a?" FROM t WHERE x LIKE 'a%%' AND y = %s
    """
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if char == "%":
            out.append("%%")
        elif quote is not None:
            out.append(char)
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            out.append(char)
        else:
            out.append("%s" if char == "?" else char)
    return "".join(out)


@lru_cache(maxsize=1024)
def _query(sql: str) -> bytes:
    return to_pyformat(sql).encode()


class PostgresConnection:
    """One psycopg connection that takes ``?`` placeholders (the Database Connection)."""

    def __init__(self, conn: psycopg.Connection[DictRow]) -> None:
        self.raw = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[DictRow]:
        """Run one statement; without parameters the text goes to the server as it is."""
        if not parameters:
            return self.raw.execute(sql.encode())
        return self.raw.execute(_query(sql), parameters)

    def executemany(
        self, sql: str, parameters: Iterable[Sequence[Any]], /
    ) -> psycopg.Cursor[DictRow]:
        """Run one statement once per parameter row; ``rowcount`` is the total."""
        cursor = self.raw.cursor()
        cursor.executemany(_query(sql), parameters)
        return cursor


class PostgresConnections:
    """The connections of one store to its schema, at most one per thread."""

    dialect = "postgresql"

    def __init__(self, target: PostgresTarget) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[psycopg.Connection[DictRow]] = []
        self._open = False

    def start(self) -> PostgresConnection:
        """Allow connections and return this thread's, connected now."""
        with self._lock:
            self._open = True
        return self.connection()

    def connection(self) -> PostgresConnection:
        """Return this thread's connection, opened on first use and again after it broke."""
        conn: PostgresConnection | None = getattr(self._local, "conn", None)
        if conn is not None and not (conn.raw.closed or conn.raw.broken):
            return conn
        with self._lock:
            if not self._open:
                raise KnowledgeError(f"{self.target.label}: the store is not open")
        raw = self._connect()
        with self._lock:
            self._all.append(raw)
        self._local.conn = PostgresConnection(raw)
        return self._local.conn  # type: ignore[no-any-return]

    def _connect(self) -> psycopg.Connection[DictRow]:
        try:
            return psycopg.connect(
                self.target.conninfo,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=CONNECT_TIMEOUT_S,
                options=f"-c search_path={self.target.schema}",
                application_name="setpoint",
            )
        except psycopg.Error as exc:
            raise self.error("cannot connect", exc) from exc

    def error(self, what: str, exc: Exception) -> KnowledgeError:
        """A KnowledgeError naming the server, the schema and what was being done."""
        return KnowledgeError(self.target.scrub(f"{self.target.label}: {what}: {exc}"))

    @contextmanager
    def read(self, what: str) -> Iterator[PostgresConnection]:
        """Lend this thread's connection for reading; errors become KnowledgeError."""
        try:
            yield self.connection()
        except psycopg.Error as exc:
            raise self.error(what, exc) from exc
        except ValueError as exc:
            raise self.error(what, ValueError(f"unreadable record: {exc}")) from exc

    @contextmanager
    def write(self, what: str) -> Iterator[PostgresConnection]:
        """One transaction on this thread's connection: committed, or rolled back on error."""
        conn = self.connection()
        try:
            with conn.raw.transaction():
                yield conn
        except psycopg.Error as exc:
            raise self.error(what, exc) from exc

    def close(self) -> None:
        """Close every connection opened, whichever thread opened it.

        Call it once the threads using the store have stopped.
        """
        with self._lock:
            conns, self._all = self._all, []
            self._open = False
            self._local = threading.local()
        for conn in conns:
            conn.close()
