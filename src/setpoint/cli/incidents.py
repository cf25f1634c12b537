"""``setpoint incidents``: recent incidents from the knowledge store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table

from setpoint.api.schemas import IncidentOut
from setpoint.cli.output import JsonFlag, console, local_time, print_json, table
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.model import IncidentStatus


def incidents(
    status: Annotated[
        IncidentStatus | None, typer.Option(help="Only incidents in this state.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """List incidents, newest first."""
    with reading_store(data_dir, store_url) as store:
        found = [
            IncidentOut.model_validate(i) for i in store.incidents.list(status=status, limit=limit)
        ]
    if as_json:
        print_json(found)
    else:
        console().print(incident_table(found, "Incidents"))


def incident_table(found: Sequence[IncidentOut], title: str) -> Table:
    """Incidents as a table: id, times, entity, state, symptom kinds and reason."""
    rows = table(("id", "opened", "entity", "status", "kinds", "resolved", "reason"), title)
    for incident in found:
        rows.add_row(
            incident.id,
            local_time(incident.opened_at),
            incident.entity,
            incident.status,
            ", ".join(incident.kinds),
            local_time(incident.resolved_at),
            incident.reason,
        )
    return rows
