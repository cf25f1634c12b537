"""Run chaos scenarios one after another against one agent, and always clean up.

Everything the run creates (a work directory, a PostgreSQL database, Redis keys, the
agent and through it the victims) is removed in ``finally`` blocks, so Ctrl-C in the
middle of a scenario leaves nothing behind. Every wait is bounded.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from setpoint.chaos.report import Result
from setpoint.chaos.scenarios import Scenario
from setpoint.chaos.victims import PG_URL, Lab, LabError, LabNames, free_port, wait_for

SCENARIO_TIMEOUT = 30.0
SETTLE_TIMEOUT = 20.0


@contextmanager
def chaos_database(names: LabNames) -> Iterator[None]:
    """Create the run's database with its one-row table; drop it on the way out."""
    import psycopg
    from psycopg import sql

    ident = sql.Identifier(names.database)
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    try:
        with psycopg.connect(names.pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE TABLE chaos (id int PRIMARY KEY, n int NOT NULL)")
            conn.execute("INSERT INTO chaos VALUES (1, 0)")
        yield
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def _settle(lab: Lab) -> int:
    """Wait until every service is healthy and no incident is open; the bystander's pid."""

    def settled() -> int | None:
        services = lab.get("/status")["services"]
        if any(s.get("health") != "healthy" for s in services.values()):
            return None
        return None if lab.open_incidents() else lab.healthy_pid("bystander")

    return wait_for(settled, SETTLE_TIMEOUT, "all services healthy and no open incident")


def run_scenario(lab: Lab, scenario: Scenario) -> Result:
    """Inject one fault, watch setpoint handle it, and undo whatever is left."""
    result = Result(scenario.name)
    bystander = _settle(lab)
    entity = f"service:{scenario.service}"
    started = time.time()
    fault = scenario.inject(lab)
    try:
        deadline = time.monotonic() + SCENARIO_TIMEOUT
        while time.monotonic() < deadline and not result.healed:
            if not result.detected:
                mine = [d for d in lab.decisions_since(started) if d["entity"] == entity]
                if mine:
                    result.detected = True
                    result.detect_s = round(float(mine[0]["timestamp"]) - started, 3)
            if fault.healed():
                result.healed = True
                result.heal_s = round(time.time() - started, 3)
            time.sleep(0.05)
        decisions = lab.decisions_since(started)
        result.actions = [
            f"{d['action']}:{d['verdict']}" for d in decisions if d["entity"] == entity
        ]
        result.collateral = [
            f"{d['action']} on {d['entity']}" for d in decisions if d["entity"] != entity
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
