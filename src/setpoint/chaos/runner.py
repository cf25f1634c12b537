"""Run chaos scenarios one after another against one agent, and always clean up.

Everything the run creates (a work directory, a PostgreSQL database, Redis keys, the
agent and through it the victims) is removed in ``finally`` blocks, so Ctrl-C in the
middle of a scenario leaves nothing behind. Every wait is bounded.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from setpoint.chaos.report import Result
from setpoint.chaos.scenarios import Predictive, Scenario
from setpoint.chaos.victims import PG_URL, Lab, LabError, LabNames, free_port, wait_for

SETTLE_TIMEOUT = 20.0
RECORD_GRACE = 5.0
"""Decisions are stored off the agent's loop: one may show up just after the heal."""


@contextmanager
def chaos_database(names: LabNames) -> Iterator[None]:
    """Create the run's two databases, the first with its one-row table; drop them after."""
    import psycopg
    from psycopg import sql

    idents = [sql.Identifier(names.database), sql.Identifier(names.reports_database)]
    try:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
            for ident in idents:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        with psycopg.connect(names.pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE TABLE chaos (id int PRIMARY KEY, n int NOT NULL)")
            conn.execute("INSERT INTO chaos VALUES (1, 0)")
        yield
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
            for ident in idents:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def _settle(lab: Lab) -> int:
    """Wait until every service is healthy and no incident is open; the bystander's pid."""

    def settled() -> int | None:
        services = lab.get("/status")["services"]
        if any(s.get("health") != "healthy" for s in services.values()):
            return None
        return None if lab.open_incidents() else lab.healthy_pid("bystander")

    return wait_for(settled, SETTLE_TIMEOUT, "all services healthy and no open incident")


def _counts(scenario: Scenario, decision: dict[str, Any]) -> bool:
    """True when ``decision`` is setpoint answering this scenario's fault."""
    if decision["entity"] != scenario.entity:
        return False
    return scenario.trigger is None or decision["trigger"] == scenario.trigger


def run_scenario(lab: Lab, scenario: Scenario) -> Result:
    """Inject one fault, watch setpoint handle it, and undo whatever is left.

    A fault to act on is watched until it is healed (or ``timeout``); a harmless one
    for the whole ``timeout``, since an action may come late.
    """
    result = Result(scenario.name, expect_action=scenario.acts)
    bystander = _settle(lab)
    started = time.time()
    fault = scenario.inject(lab)
    acted_at: float | None = None
    try:
        deadline = time.monotonic() + scenario.timeout
        healed_at = math.inf
        while time.monotonic() < deadline:
            if acted_at is None:
                mine = [d for d in lab.decisions_since(started) if _counts(scenario, d)]
                acted_at = float(mine[0]["timestamp"]) if mine else None
            if not result.healed and fault.healed():
                result.healed, healed_at = True, time.monotonic()
                result.heal_s = round(time.time() - started, 3)
            recorded = acted_at is not None or time.monotonic() - healed_at > RECORD_GRACE
            if scenario.acts and result.healed and recorded:
                break
            time.sleep(0.05)
        if acted_at is not None:
            result.detected, result.detect_s = True, round(acted_at - started, 3)
            if isinstance(fault, Predictive):
                result.lead_s = fault.lead(acted_at)
        decisions = lab.decisions_since(started)
        result.actions = [
            f"{d['action']}:{d['verdict']}" for d in decisions if d["entity"] == scenario.entity
        ]
        result.collateral = [
            f"{d['action']} on {d['entity']}" for d in decisions if d["entity"] != scenario.entity
        ]
        if lab.healthy_pid("bystander") not in (bystander, None) or not _alive(bystander):
            result.collateral.append(f"bystander pid {bystander} replaced")
        result.collateral += fault.damage()
    finally:
        fault.undo()
    return result


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def run(scenarios: list[Scenario], keep: bool, report: Callable[[Result], None]) -> list[Result]:
    """Run ``scenarios`` in order against one agent; hand each result to ``report``.

    The work directory (agent log, data dir, rendered config) is removed afterwards
    unless ``keep`` is set; either way its path is ``Lab.workdir``, named in errors.
    """
    names = LabNames(
        run_id=uuid.uuid4().hex[:8],
        api_port=free_port(),
        victim_port=free_port(),
        bystander_port=free_port(),
        db_app_port=free_port(),
        cache_app_port=free_port(),
        report_app_port=free_port(),
    )
    workdir = Path(tempfile.mkdtemp(prefix=f"setpoint-chaos-{names.run_id}-"))
    lab = Lab(names, workdir)
    results: list[Result] = []
    try:
        with chaos_database(names):
            try:
                lab.start()
                for scenario in scenarios:
                    try:
                        result = run_scenario(lab, scenario)
                    except (LabError, RuntimeError) as exc:
                        result = Result(scenario.name, error=str(exc))
                    results.append(result)
                    report(result)
            finally:
                lab.stop()
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return results
