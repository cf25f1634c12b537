"""PostgreSQL actuators against the real server at 127.0.0.1:5432.

Each test gets its own database and login role (``sp_act_<random>``), dropped at the
end; the "victim" sessions are the test's own connections as that role, and every
actuator is scoped to that database, so nothing else on the server is touched.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from setpoint.config.integrations import IntegrationsConfig
from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext
from setpoint.execute.postgres import (
    CancelLongQueries,
    SessionsConfig,
    TerminateIdleInTransaction,
    TerminateLongQueries,
)
from setpoint.execute.postgres_admin import ConnectionLimit, VacuumAnalyze

SERVER = "postgresql://postgres@127.0.0.1:5432"


@dataclass
class Pg:
    db: str
    role: str
    ctx: ActionContext

    @property
    def victim_url(self) -> str:
        return f"postgresql://{self.role}@127.0.0.1:5432/{self.db}"

    async def victim(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(self.victim_url, connect_timeout=3)

    def sessions(self, **params: object) -> SessionsConfig:
        return SessionsConfig.model_validate(
            {"instance": "main", "database": self.db, "verify_timeout": "3s", **params}
        )


@pytest.fixture
async def pg() -> AsyncIterator[Pg]:
    try:
        admin = await psycopg.AsyncConnection.connect(
            f"{SERVER}/test", autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {exc}")
    name = f"sp_act_{secrets.token_hex(4)}"
    await admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    await admin.execute(
        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name))
    )
    integrations = IntegrationsConfig.model_validate(
        {"postgres": {"main": {"url": f"{SERVER}/{name}"}}}
    )
    try:
        yield Pg(name, name, ActionContext(f"postgres:{name}", integrations=integrations))
    finally:
        await admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        await admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        await admin.close()


async def wait_active(conn: psycopg.AsyncConnection, pid: int, timeout: float = 5.0) -> None:
    """Wait until ``pid`` shows as running a statement."""
    deadline = time.monotonic() + timeout
    while True:
        cur = await conn.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,))
        row = await cur.fetchone()
        if row and row[0] == "active":
            return
        assert time.monotonic() < deadline, f"pid {pid} never became active"
        await asyncio.sleep(0.02)


async def test_cancel_long_query_keeps_the_session(pg: Pg) -> None:
    victim = await pg.victim()
    sleeper = asyncio.create_task(victim.execute("SELECT pg_sleep(30)"))
    async with await psycopg.AsyncConnection.connect(f"{SERVER}/{pg.db}", autocommit=True) as obs:
        await wait_active(obs, victim.info.backend_pid)
    await asyncio.sleep(0.3)
    action = CancelLongQueries(pg.sessions(older_than="200ms"))

    preview = await action.preview(pg.ctx)
    assert f"pid {victim.info.backend_pid}" in preview and "pg_sleep(30)" in preview
    assert not sleeper.done(), "preview must change nothing"
    done = await action.apply(pg.ctx)
    assert "pg_cancel_backend on 1 of 1" in done
    with pytest.raises(psycopg.errors.QueryCanceled):
        await asyncio.wait_for(sleeper, 5)
    check = await action.verify(pg.ctx)
    assert check.ok, check.detail
    await victim.rollback()
    assert await (await victim.execute("SELECT 1")).fetchone() == (1,)
    await victim.close()


async def test_terminate_long_query_ends_the_session_but_not_a_superusers(pg: Pg) -> None:
    victim = await pg.victim()
    su = await psycopg.AsyncConnection.connect(f"{SERVER}/{pg.db}", autocommit=True)
    tasks = [asyncio.create_task(c.execute("SELECT pg_sleep(30)")) for c in (victim, su)]
    async with await psycopg.AsyncConnection.connect(f"{SERVER}/{pg.db}", autocommit=True) as obs:
        for conn in (victim, su):
            await wait_active(obs, conn.info.backend_pid)
    await asyncio.sleep(0.3)
    action = TerminateLongQueries(pg.sessions(older_than="200ms"))
    victim_pid, su_pid = victim.info.backend_pid, su.info.backend_pid

    done = await action.apply(pg.ctx)
    assert f"pid {victim_pid}" in done
    assert f"pid {su_pid}" not in done
    with pytest.raises(psycopg.OperationalError):
        await asyncio.wait_for(tasks[0], 5)
    assert (await action.verify(pg.ctx)).ok
    assert not tasks[1].done(), "a superuser's query is left alone unless asked"
    su.cancel()
    with pytest.raises(psycopg.errors.QueryCanceled):
        await asyncio.wait_for(tasks[1], 5)
    await su.close()
    await victim.close()


async def test_nothing_older_than_threshold_means_nothing_done(pg: Pg) -> None:
    action = TerminateLongQueries(pg.sessions(older_than="1h"))
    assert "nothing to terminate" in await action.preview(pg.ctx)
    assert "nothing to terminate" in await action.apply(pg.ctx)
    assert (await action.verify(pg.ctx)).ok


async def test_idle_in_transaction_with_blocked_writers_heals_within_3s(pg: Pg) -> None:
    """An idle transaction holding a row lock, and writers queued behind it until the
    role's connection limit (20) is exhausted: terminating the idle session clears it."""
    async with await psycopg.AsyncConnection.connect(f"{SERVER}/{pg.db}", autocommit=True) as a:
        await a.execute(
            sql.SQL("ALTER ROLE {} CONNECTION LIMIT 20").format(sql.Identifier(pg.role))
        )
        await a.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        await a.execute("INSERT INTO t VALUES (1, 0)")
        await a.execute(sql.SQL("ALTER TABLE t OWNER TO {}").format(sql.Identifier(pg.role)))
    holder = await pg.victim()
    await holder.execute("UPDATE t SET v = v + 1 WHERE id = 1")  # now idle in transaction
    fault_at = time.monotonic()
    writers = [
        await psycopg.AsyncConnection.connect(pg.victim_url, autocommit=True) for _ in range(19)
    ]
    blocked = [
        asyncio.create_task(w.execute("UPDATE t SET v = v + 1 WHERE id = 1")) for w in writers
    ]
    with pytest.raises(psycopg.OperationalError, match="too many connections"):
        await pg.victim()
    await asyncio.sleep(0.6)
    assert not any(t.done() for t in blocked), "writers are blocked behind the idle transaction"

    action = TerminateIdleInTransaction(pg.sessions(older_than="500ms"))
    assert f"pid {holder.info.backend_pid}" in await action.preview(pg.ctx)
    started = time.monotonic()
    await action.apply(pg.ctx)
    await asyncio.wait_for(asyncio.gather(*blocked), 3)
    heal_s = time.monotonic() - started
    total_s = time.monotonic() - fault_at
    check = await action.verify(pg.ctx)
    assert check.ok, check.detail
    await (await pg.victim()).close()  # the role can connect again
    print(
        f"\nidle-in-transaction + 19 blocked writers: cleared {heal_s:.3f}s after apply, "
        f"{total_s:.3f}s after the fault (threshold 0.5s)"
    )
    assert total_s <= 3.0
    for w in writers:
        await w.close()
    await holder.close()


async def test_vacuum_analyze_quotes_the_table_name(pg: Pg) -> None:
    async with await psycopg.AsyncConnection.connect(f"{SERVER}/{pg.db}", autocommit=True) as a:
        await a.execute('CREATE TABLE "Order Items" (id int)')
        await a.execute('INSERT INTO "Order Items" SELECT generate_series(1, 2000)')
        await a.execute('DELETE FROM "Order Items" WHERE id % 2 = 0')
    action = VacuumAnalyze(VacuumAnalyze.Config(instance="main", table="Order Items"))

    assert 'VACUUM (ANALYZE) "public"."Order Items"' in await action.preview(pg.ctx)
    await action.apply(pg.ctx)
    check = await action.verify(pg.ctx)
    assert check.ok, check.detail
    assert check.measurements["dead_rows"] == 0

    missing = VacuumAnalyze(VacuumAnalyze.Config(instance="main", table="t; DROP TABLE x"))
    with pytest.raises(PreviewFailed, match=r'no table "public"."t; DROP TABLE x"'):
        await missing.preview(pg.ctx)


async def test_connection_limit_and_its_rollback(pg: Pg) -> None:
    action = ConnectionLimit(ConnectionLimit.Config(instance="main", role=pg.role, limit=5))
    with pytest.raises(RollbackFailed, match="not applied"):
        await action.rollback(pg.ctx)
    assert "(now -1; 0 open)" in await action.preview(pg.ctx)
    assert await action.apply(pg.ctx) == f"role {pg.role}: connection limit -1 -> 5"
    assert (await action.verify(pg.ctx)).measurements == {"connlimit": 5}
    assert "restored to -1" in await action.rollback(pg.ctx)
    assert not (await action.verify(pg.ctx)).ok

    ghost = ConnectionLimit(ConnectionLimit.Config(instance="main", role="no-such-role", limit=1))
    with pytest.raises(ApplyFailed, match="no role 'no-such-role'"):
        await ghost.apply(pg.ctx)


async def test_unknown_instance_and_unreachable_server_are_clear_errors(pg: Pg) -> None:
    action = VacuumAnalyze(VacuumAnalyze.Config(instance="other", table="t"))
    with pytest.raises(PreviewFailed, match=r"no integrations\.postgres instance 'other'"):
        await action.preview(pg.ctx)
    down = IntegrationsConfig.model_validate(
        {"postgres": {"main": {"url": "postgresql://u:pw@127.0.0.1:1/x", "connect_timeout": 1}}}
    )
    action = VacuumAnalyze(VacuumAnalyze.Config(instance="main", table="t"))
    with pytest.raises(
        ApplyFailed, match=r"cannot connect to postgres postgresql://u:\*\*\*@"
    ) as exc:
        await action.apply(ActionContext("postgres:x", integrations=down))
    assert "pw" not in str(exc.value)
