"""PostgreSQL maintenance actuators: ``postgres.vacuum_analyze`` and ``postgres.connection_limit``.

Identifiers are quoted by :mod:`psycopg.sql`, never pasted into SQL text.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any, ClassVar

from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.durations import Duration
from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, RollbackFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification
from setpoint.execute.postgres import Connection, connect

_STATS = (
    "SELECT n_live_tup, n_dead_tup, last_vacuum, last_autovacuum, last_analyze"
    " FROM pg_stat_user_tables WHERE relid = to_regclass(%s)"
)


class VacuumAnalyze:
    """``VACUUM (ANALYZE)`` one table: reclaim dead rows and refresh planner statistics.

    Plain VACUUM takes no lock that blocks reads or writes, so the action is safe.

    >>> VacuumAnalyze.Config(instance="main", table="orders").schema_
    'public'
    """

    class Config(BaseModel):
        """Which table, on which instance."""

        model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

        instance: str = Field(min_length=1, description="integrations.postgres name")
        table: str = Field(min_length=1)
        schema_: str = Field("public", alias="schema", min_length=1)
        timeout: Duration = Field(600.0, gt=0, description="statement timeout")

    risk: ClassVar[Risk] = Risk.SAFE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config) -> None:
        self.config = config
        self._started: datetime | None = None

    def _name(self) -> sql.Identifier:
        return sql.Identifier(self.config.schema_, self.config.table)

    async def _stats(self, conn: Connection, error: type[ActuationError]) -> dict[str, Any]:
        row = await (await conn.execute(_STATS, (self._name().as_string(conn),))).fetchone()
        if row is None:
            raise error(f"no table {self._name().as_string(conn)}")
        return dict(row)

    async def preview(self, ctx: ActionContext) -> str:
        """The statement, with the table's live and dead rows now."""
        c = self.config
        async with connect(ctx, c.instance, PreviewFailed, c.timeout) as conn:
            stats = await self._stats(conn, PreviewFailed)
            name = self._name().as_string(conn)
        return (
            f"VACUUM (ANALYZE) {name} on {c.instance}: {stats['n_dead_tup']} dead and "
            f"{stats['n_live_tup']} live rows; last vacuum {stats['last_vacuum']}"
        )

    async def apply(self, ctx: ActionContext) -> str:
        """Run the VACUUM; report the dead rows before and after."""
        c = self.config
        async with connect(ctx, c.instance, ApplyFailed, c.timeout) as conn:
            before = await self._stats(conn, ApplyFailed)
            row = await (await conn.execute("SELECT now() AS now")).fetchone()
            self._started = row["now"] if row else None
            await conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(self._name()))
            name = self._name().as_string(conn)
        return f"VACUUM (ANALYZE) {name}: {before['n_dead_tup']} dead rows before"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The table's ``last_vacuum`` and ``last_analyze`` are from this action."""
        c = self.config
        if self._started is None:
            raise VerifyFailed("verify before apply")
        deadline = time.monotonic() + 5.0
        async with connect(ctx, c.instance, VerifyFailed, c.timeout) as conn:
            while True:
                stats = await self._stats(conn, VerifyFailed)
                done = all(
                    stats[k] is not None and stats[k] >= self._started
                    for k in ("last_vacuum", "last_analyze")
                )
                if done or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.05)
        measured = {"dead_rows": stats["n_dead_tup"], "live_rows": stats["n_live_tup"]}
        detail = f"vacuumed at {stats['last_vacuum']}" if done else "no vacuum recorded"
        return Verification(done, detail, measured)


class ConnectionLimit:
    """``ALTER ROLE ... CONNECTION LIMIT n``; rollback restores the previous limit.

    Disruptive: the role's new connections beyond ``limit`` are refused (existing ones
    stay). ``-1`` means no limit.

    >>> ConnectionLimit.Config(instance="main", role="app", limit=20).limit
    20
    """

    class Config(BaseModel):
        """Which role, and its new limit."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        instance: str = Field(min_length=1, description="integrations.postgres name")
        role: str = Field(min_length=1)
        limit: int = Field(ge=-1, description="-1: unlimited")
        timeout: Duration = Field(10.0, gt=0, description="statement timeout")

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config) -> None:
        self.config = config
        self._previous: int | None = None

    async def _limit(self, conn: Connection, error: type[ActuationError]) -> int:
        cur = await conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (self.config.role,)
        )
        row = await cur.fetchone()
        if row is None:
            raise error(f"no role {self.config.role!r}")
        return int(row["rolconnlimit"])

    async def _alter(self, conn: Connection, limit: int) -> None:
        await conn.execute(
            sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(
                sql.Identifier(self.config.role), sql.Literal(limit)
            )
        )

    async def preview(self, ctx: ActionContext) -> str:
        """The role's limit now and the one it would get, with its open connections."""
        c = self.config
        async with connect(ctx, c.instance, PreviewFailed, c.timeout) as conn:
            now = await self._limit(conn, PreviewFailed)
            cur = await conn.execute(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE usename = %s", (c.role,)
            )
            row = await cur.fetchone()
        open_ = row["n"] if row else 0
        return f"ALTER ROLE {c.role} CONNECTION LIMIT {c.limit} (now {now}; {open_} open)"

    async def apply(self, ctx: ActionContext) -> str:
        """Remember the previous limit, then set the new one."""
        c = self.config
        async with connect(ctx, c.instance, ApplyFailed, c.timeout) as conn:
            self._previous = await self._limit(conn, ApplyFailed)
            await self._alter(conn, c.limit)
        return f"role {c.role}: connection limit {self._previous} -> {c.limit}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The catalog holds the new limit."""
        c = self.config
        async with connect(ctx, c.instance, VerifyFailed, c.timeout) as conn:
            now = await self._limit(conn, VerifyFailed)
        return Verification(
            now == c.limit, f"role {c.role} connection limit is {now}", {"connlimit": now}
        )

    async def rollback(self, ctx: ActionContext) -> str:
        """Restore the limit read before :meth:`apply`."""
        c = self.config
        if self._previous is None:
            raise RollbackFailed(f"role {c.role}: nothing to roll back (not applied)")
        async with connect(ctx, c.instance, RollbackFailed, c.timeout) as conn:
            await self._alter(conn, self._previous)
        return f"role {c.role}: connection limit restored to {self._previous}"
