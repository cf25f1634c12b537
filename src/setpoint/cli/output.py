"""How commands print: rich tables for people, one JSON document with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

UNBROKEN = frozenset({"id", "time", "opened", "resolved", "since", "last_tick_at"})
"""Table columns kept on one line: ids and times are useless when folded."""

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]
"""The ``--json`` switch shared by reading commands."""


def console() -> Console:
    """Make a stdout console that prints stored text literally, obeying no markup in it."""
    return Console(markup=False)


def table(columns: Iterable[str], title: str | None = None) -> Table:
    """Make a table with these columns; long text folds, ids and times stay whole."""
    made = Table(title=title)
    for column in columns:
        made.add_column(column, no_wrap=column in UNBROKEN, overflow="fold")
    return made


def fields(values: Mapping[str, str]) -> Table:
    """Make a two-column grid of names and values, leaving out empty values."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in values.items():
        if value:
            grid.add_row(key, value)
    return grid


def local_time(ts: float | None) -> str:
    """Epoch seconds as local ISO-8601 to the second; empty for None.

    >>> local_time(None)
    ''
    >>> local_time(0.0)[:4] in ("1969", "1970")
    True
    """
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def print_json(data: BaseModel | Iterable[BaseModel] | Mapping[str, Any]) -> None:
    """Print a model, a list of models or a mapping as one indented JSON document."""
    if isinstance(data, BaseModel):
        plain: Any = data.model_dump(mode="json")
    elif isinstance(data, Mapping):
        plain = dict(data)
    else:
        plain = [item.model_dump(mode="json") for item in data]
    typer.echo(json.dumps(plain, indent=2, ensure_ascii=False, default=str))


def inline(values: Mapping[str, Any]) -> str:
    """Join a mapping as ``key=value`` pairs on one line, for table cells.

    >>> inline({"series": "host.load1", "score": 4.2, "range": [0, 2]})
    'series=host.load1 score=4.2 range=[0, 2]'
    """
    return " ".join(f"{key}={scalar(value)}" for key, value in values.items())


def scalar(value: Any) -> str:
    """Show a stored value as cell text: strings as they are, anything else as JSON.

    >>> scalar("up"), scalar(0.5), scalar(None), scalar({"pid": 7})
    ('up', '0.5', 'null', '{"pid": 7}')
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def fail(message: str) -> NoReturn:
    """Print an error for the user on stderr and stop with exit code 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
