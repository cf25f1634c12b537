"""The ``--data-dir`` and ``--store-url`` options, and opening the store for reading commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from setpoint.cli.output import fail
from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import backend_name, open_store
from setpoint.knowledge.sqlite import sqlite_path
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

StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store-url",
        envvar="SETPOINT_STORE_URL",
        show_envvar=True,
        help="The store the agent's knowledge.url names (postgresql://user@host/db?schema=s);"
        " default: SQLite in the data dir. Prefer the variable for a URL with a password.",
    ),
]
"""The ``--store-url`` option; None means the SQLite store in the data dir."""


@contextmanager
def reading_store(data_dir: Path | None, url: str | None = None) -> Iterator[KnowledgeStore]:
    """Open the store for a command; exit 1 when it cannot be opened.

    A missing SQLite file is reported, never created.
    """
    directory = data_dir or default_data_dir()
    try:
        if backend_name(url) == "sqlite":
            path = store_path(directory) if url is None else sqlite_path(url)
            if not path.is_file():
                fail(f"no knowledge store at {path} (has `setpoint run` used this data dir?)")
        store = open_store(url, directory)
    except KnowledgeError as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()
