"""``setpoint status``: the running agent's own report, or what the store knows without it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from setpoint.api.schemas import IncidentOut
from setpoint.cli.incidents import incident_table
from setpoint.cli.output import (
    JsonFlag,
    console,
    fields,
    local_time,
    print_json,
    scalar,
    table,
)
from setpoint.cli.run import DEFAULT_LISTEN
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.model import IncidentStatus

TIMEOUT_S = 2.0
"""How long to wait for the agent before reporting it unreachable."""


def status(
    url: Annotated[str, typer.Option(help="Base URL of the agent's API.")] = (
        f"http://{DEFAULT_LISTEN}"
    ),
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Show loop health, sensors, services and open incidents of the running agent.

    When the agent cannot be reached, say so, list the open incidents from the store,
    and exit 1.
    """
    try:
        response = httpx.get(f"{url.rstrip('/')}/status", timeout=TIMEOUT_S)
        response.raise_for_status()
        snapshot = response.json()
        if not isinstance(snapshot, dict):
            raise ValueError("the answer is not a JSON object")
    except (httpx.HTTPError, ValueError) as exc:
        _unreachable(url, f"{type(exc).__name__}: {exc}", as_json, data_dir, store_url)
    if as_json:
        print_json({"url": url, "reachable": True, "status": snapshot})
    else:
        console().print(render(url, snapshot))


def _unreachable(
    url: str, error: str, as_json: bool, data_dir: Path | None, store_url: str | None
) -> NoReturn:
    with reading_store(data_dir, store_url) as store:
        found = [
            IncidentOut.model_validate(incident)
            for state in (IncidentStatus.OPEN, IncidentStatus.ESCALATED)
            for incident in store.incidents.list(status=state, limit=1000)
        ]
    found.sort(key=lambda incident: incident.opened_at, reverse=True)
    if as_json:
        print_json(
            {
                "url": url,
                "reachable": False,
                "error": error,
                "open_incidents": [incident.model_dump(mode="json") for incident in found],
            }
        )
    else:
        out = console()
        out.print(Text(f"agent not reachable at {url} ({error})", style="bold red"))
        out.print(incident_table(found, "Open incidents (from the store)"))
    raise typer.Exit(1)


def render(url: str, snapshot: Mapping[str, Any]) -> RenderableType:
    """Lay out the agent's snapshot: a headline, its scalar fields, a table per section."""
    ok = bool(snapshot.get("loop_ok"))
    headline = Text(
        f"agent at {url}: loop {'ok' if ok else 'STALLED'}",
        style="bold green" if ok else "bold red",
    )
    scalars = {
        key: _cell(key, value)
        for key, value in snapshot.items()
        if key != "loop_ok" and not isinstance(value, Mapping | list)
    }
    sections = [
        Panel(_section(value), title=key, title_align="left")
        for key, value in snapshot.items()
        if isinstance(value, Mapping | list)
    ]
    return Group(headline, fields(scalars), *sections)


def _section(value: Mapping[str, Any] | Sequence[Any]) -> RenderableType:
    if isinstance(value, Mapping):
        if all(isinstance(v, Mapping) for v in value.values()):
            return _table([{"name": name, **row} for name, row in value.items()])
        return _table([dict(value)])
    if all(isinstance(row, Mapping) for row in value):
        return _table(list(value))
    return Text(", ".join(scalar(item) for item in value))


def _table(rows: list[Mapping[str, Any]]) -> RenderableType:
    if not rows:
        return Text("(none)")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    made = table(columns)
    for row in rows:
        made.add_row(*(_cell(c, row[c]) if c in row else "" for c in columns))
    return made


def _cell(key: str, value: Any) -> str:
    is_time = key.endswith("_at") or key == "since"
    if is_time and isinstance(value, int | float) and not isinstance(value, bool):
        return local_time(value)
    return scalar(value)
