"""``setpoint chaos``: break throwaway victims on purpose and time how setpoint heals them."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from setpoint.chaos.report import Result, table
from setpoint.chaos.runner import run
from setpoint.chaos.scenarios import SCENARIOS


def chaos(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(help=f"Scenarios to run, in order (default all: {', '.join(SCENARIOS)})."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per scenario, one per line.")
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the work directory (agent log, data dir).")
    ] = False,
) -> None:
    """Self-test: start victims, run setpoint on them, inject faults, report the healing.

    Needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (the run creates and
    drops its own database and keys). The victim leaks inside a memory cgroup the run
    makes and removes (as root; else under RLIMIT_AS), and the disk scenarios write only
    in the run's work directory. Exits 1 when a scenario was not detected (or, for a
    harmless burst, was acted on), not healed, or touched anything besides its target.
    """
    names = scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise typer.BadParameter(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    def report(result: Result) -> None:
        if as_json:
            typer.echo(result.json_line())

    results = run([SCENARIOS[n] for n in names], keep, report)
    if not as_json:
        typer.echo(table(results))
    if not all(r.passed for r in results):
        raise typer.Exit(1)
