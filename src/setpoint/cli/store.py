"""The ``--data-dir`` option and opening the knowledge store for reading commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from setpoint.cli.output import fail
from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.sqlite import open_store
from setpoint.paths import default_data_dir, store_path

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        file_okay=False,
        help="Where the agent keeps its store "
        "(default: $XDG_DATA_HOME/setpoint, else ~/.local/share/setpoint).",
    ),
]
"""The ``--data-dir`` option; None means :func:`~setpoint.paths.default_data_dir`."""


@contextmanager
def reading_store(data_dir: Path | None) -> Iterator[KnowledgeStore]:
    """Open the store in ``data_dir`` for a command; exit 1 when there is none, never create it."""
    path = store_path(data_dir or default_data_dir())
    if not path.is_file():
        fail(f"no knowledge store at {path} (has `setpoint run` used this data dir?)")
    try:
        store = open_store(path)
    except KnowledgeError as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()
