"""PostgreSQL actuators for runaway sessions: cancel, then terminate.

``postgres.cancel_long_queries`` and ``postgres.terminate_long_queries`` act on queries
running longer than ``older_than``; ``postgres.terminate_idle_in_transaction`` on
sessions idle inside a transaction that long (they hold locks and block writers).

Selection and signal are one SQL statement, so a session that finished its query in
between is not hit. Never touched: setpoint's own connections (``application_name``
``setpoint``), background workers, and superuser or replication sessions unless the
params ask. ``max_sessions`` bounds how many one action may hit (oldest first).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, ClassVar

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.durations import Duration
from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification

APPLICATION_NAME = "setpoint"
"""The ``application_name`` of setpoint's own connections, which it never signals."""

Connection = psycopg.AsyncConnection[DictRow]


@asynccontextmanager
async def connect(
    ctx: ActionContext, instance: str, error: type[ActuationError], timeout: float
) -> AsyncIterator[Connection]:
    """An autocommit connection to the named instance, with a statement timeout.

    Connection failures and SQL errors inside the block become ``error``.
    """
    settings = ctx.integrations.postgres.get(instance)
    if settings is None:
        known = ", ".join(sorted(ctx.integrations.postgres)) or "none"
        raise error(f"no integrations.postgres instance {instance!r} (known: {known})")
    try:
        conn = await psycopg.AsyncConnection.connect(
            settings.secret_url,
            autocommit=True,
            row_factory=dict_row,
            connect_timeout=max(1, math.ceil(settings.connect_timeout)),
            application_name=APPLICATION_NAME,
        )
    except psycopg.Error as exc:
        raise error(f"cannot connect to postgres {settings.display}: {exc}") from exc
    try:
        await conn.execute(
            "SELECT set_config('statement_timeout', %s, false)", (f"{int(timeout * 1000)}ms",)
        )
        yield conn
    except psycopg.Error as exc:
        raise error(f"postgres {instance}: {exc}") from exc
    finally:
        await conn.close()


class SessionsConfig(BaseModel):
    """Which sessions to act on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance: str = Field(min_length=1, description="integrations.postgres name")
    older_than: Duration = Field(gt=0, description="age of the query or idle transaction")
    database: str | None = Field(None, description="only sessions on this database")
    role: str | None = Field(None, description="only sessions of this role")
    include_superusers: bool = False
    include_replication: bool = False
    max_sessions: int = Field(100, ge=1, description="at most this many, oldest first")
    timeout: Duration = Field(10.0, gt=0, description="statement timeout")
    verify_timeout: Duration = Field(5.0, gt=0, description="time for the sessions to end")


class _Sessions:
    """Signal the sessions that match a state and an age; verify they are gone."""

    Config: ClassVar[type[SessionsConfig]] = SessionsConfig
    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.SERVICE
    _states: ClassVar[tuple[str, ...]]
    _since: ClassVar[str]
    _signal: ClassVar[str]
    _verb: ClassVar[str]

    def __init__(self, config: SessionsConfig) -> None:
        self.config = config
        self._acted: list[tuple[int, datetime]] = []

    def _select(self) -> sql.Composed:
        since = sql.SQL("a.{}").format(sql.Identifier(self._since))
        return sql.SQL(
            "SELECT a.pid, a.usename, a.datname, a.state, {since} AS since,"
            " extract(epoch FROM now() - {since})::float8 AS age_s,"
            " left(a.query, 200) AS query"
            " FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid"
            " WHERE a.pid <> pg_backend_pid() AND a.application_name <> %(app)s"
            " AND a.state = ANY(%(states)s) AND a.backend_type = ANY(%(types)s)"
            " AND {since} < now() - make_interval(secs => %(older)s)"
            " AND (%(su)s OR NOT coalesce(r.rolsuper, false))"
            " AND (%(repl)s OR NOT coalesce(r.rolreplication, false))"
            " AND (%(db)s::text IS NULL OR a.datname = %(db)s)"
            " AND (%(role)s::text IS NULL OR a.usename = %(role)s)"
            " ORDER BY {since} LIMIT %(limit)s"
        ).format(since=since)

    def _params(self) -> dict[str, Any]:
        c = self.config
        types = ["client backend", "walsender"] if c.include_replication else ["client backend"]
        return {
            "app": APPLICATION_NAME,
            "states": list(self._states),
            "types": types,
            "older": c.older_than,
            "su": c.include_superusers,
            "repl": c.include_replication,
            "db": c.database,
            "role": c.role,
            "limit": c.max_sessions,
        }

    def _describe(self, rows: list[DictRow]) -> str:
        return "; ".join(
            f"pid {r['pid']} ({r['usename']}@{r['datname']}, {r['state']} {r['age_s']:.1f}s): "
            f"{r['query']!r}"
            for r in rows
        )

    def _what(self) -> str:
        return f"{' or '.join(self._states)} for more than {self.config.older_than:g}s"

    async def preview(self, ctx: ActionContext) -> str:
        """List the sessions (pid, role, database, age, query) that would be signalled."""
        c = self.config
        async with connect(ctx, c.instance, PreviewFailed, c.timeout) as conn:
            rows = await (await conn.execute(self._select(), self._params())).fetchall()
        if not rows:
            return f"no session {self._what()}: nothing to {self._verb}"
        return f"{self._verb} {len(rows)} session(s) with {self._signal}: {self._describe(rows)}"

    async def apply(self, ctx: ActionContext) -> str:
        """Select and signal the matching sessions in one statement."""
        c = self.config
        query = sql.SQL("SELECT t.*, {}(t.pid) AS signalled FROM ({}) t").format(
            sql.Identifier(self._signal), self._select()
        )
        async with connect(ctx, c.instance, ApplyFailed, c.timeout) as conn:
            rows = await (await conn.execute(query, self._params())).fetchall()
        self._acted = [(r["pid"], r["since"]) for r in rows if r["signalled"]]
        if not rows:
            return f"no session {self._what()}: nothing to {self._verb}"
        return f"{self._signal} on {len(self._acted)} of {len(rows)}: {self._describe(rows)}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """Every signalled session has left its state (polled up to ``verify_timeout``)."""
        c = self.config
        if not self._acted:
            return Verification(True, "no session was signalled", {"sessions": 0})
        pids = [pid for pid, _ in self._acted]
        since = [ts for _, ts in self._acted]
        query = sql.SQL(
            "SELECT a.pid FROM pg_stat_activity a"
            " JOIN unnest(%s::int[], %s::timestamptz[]) AS t(pid, since)"
            " ON a.pid = t.pid AND a.{} = t.since WHERE a.state = ANY(%s)"
        ).format(sql.Identifier(self._since))
        started = time.monotonic()
        deadline = started + c.verify_timeout
        async with connect(ctx, c.instance, VerifyFailed, c.timeout) as conn:
            while True:
                cur = await conn.execute(query, (pids, since, list(self._states)))
                left = [r["pid"] for r in await cur.fetchall()]
                if not left or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.05)
        took = round(time.monotonic() - started, 4)
        measured = {"sessions": len(pids), "remaining": len(left), "cleared_s": took}
        if left:
            return Verification(False, f"still {self._what()}: pids {left}", measured)
        return Verification(True, f"{len(pids)} session(s) cleared in {took:g}s", measured)


class CancelLongQueries(_Sessions):
    """Cancel queries running longer than ``older_than`` (the session survives).

    >>> CancelLongQueries.Config(instance="main", older_than="30s").older_than
    30.0
    """

    _states = ("active",)
    _since = "query_start"
    _signal = "pg_cancel_backend"
    _verb = "cancel"


class TerminateLongQueries(_Sessions):
    """Terminate sessions whose query runs longer than ``older_than`` (after cancel failed)."""

    _states = ("active",)
    _since = "query_start"
    _signal = "pg_terminate_backend"
    _verb = "terminate"


class TerminateIdleInTransaction(_Sessions):
    """Terminate sessions idle in a transaction longer than ``older_than``.

    Such a session holds its locks and so blocks every writer queued behind it; ending
    it rolls its transaction back and releases them.
    """

    _states = ("idle in transaction", "idle in transaction (aborted)")
    _since = "state_change"
    _signal = "pg_terminate_backend"
    _verb = "terminate"
