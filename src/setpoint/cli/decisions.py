"""``setpoint decisions``: recent decisions and how they turned out."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from setpoint.api.params import parse_instant, parse_mode
from setpoint.api.schemas import DecisionOut
from setpoint.cli import decision_stats
from setpoint.cli.output import JsonFlag, console, local_time, print_json, table
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.config.durations import parse_duration
from setpoint.knowledge.base import DecisionFilter
from setpoint.model import OutcomeStatus


def parse_since(value: str) -> float:
    """Epoch seconds from a time (epoch seconds, ISO-8601) or a duration ago (``2h``).

    >>> parse_since("1700000000")
    1700000000.0
    >>> 3590 < time.time() - parse_since("1h") < 3610
    True
    """
    try:
        return parse_instant(value)
    except ValueError:
        try:
            return time.time() - parse_duration(value)
        except ValueError:
            raise typer.BadParameter(
                f"{value!r} is neither a time (epoch seconds, ISO-8601) nor a duration (2h)"
            ) from None


def _mode(value: str) -> str:
    try:
        return parse_mode(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def decisions(
    mode: Annotated[
        str | None,
        typer.Option(
            parser=_mode, metavar="MODE", help="Gate mode (auto, dry-run...) or operational mode."
        ),
    ] = None,
    outcome: Annotated[OutcomeStatus | None, typer.Option(case_sensitive=False)] = None,
    since: Annotated[
        float | None,
        typer.Option(parser=parse_since, metavar="TIME", help="A time, or a duration ago: 2h."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="Show success rates (overall, per action), outcome counts and the reward"
            " trend instead; --since limits the time range.",
        ),
    ] = False,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """List decisions with their verdicts and outcomes, newest first; or their stats."""
    if stats:
        with reading_store(data_dir, store_url) as store:
            report = decision_stats.gather(store, since)
        decision_stats.show(report, as_json)
        return
    where = DecisionFilter(mode=mode, outcome=outcome, start_time=since, limit=limit)
    with reading_store(data_dir, store_url) as store:
        found = [DecisionOut.model_validate(d) for d in store.decisions.list(where)]
    if as_json:
        print_json(found)
        return
    rows = table(("id", "time", "trigger", "action", "verdict", "outcome", "reward"), "Decisions")
    for d in found:
        rows.add_row(
            d.id,
            local_time(d.timestamp),
            f"{d.trigger} {d.entity}",
            f"{d.action} ({d.playbook})",
            d.verdict,
            d.outcome or "",
            "" if d.reward_signal is None else f"{d.reward_signal:g}",
        )
    console().print(rows)
