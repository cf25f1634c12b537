"""``setpoint backup FILE`` and ``setpoint restore FILE``.

An SQLite store is copied with SQLite's online backup API into a new SQLite file,
safe while the agent runs. Any other store is written as a portable dump
(:mod:`setpoint.knowledge.backup`). A restore takes either kind of file into either
kind of store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from setpoint.cli.output import console, fail, table
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.errors import KnowledgeError
from setpoint.knowledge import backup as portable
from setpoint.knowledge.open import open_store
from setpoint.knowledge.sqlite import SQLiteStore
from setpoint.knowledge.store import SQLStore
from setpoint.paths import default_data_dir

File = Annotated[Path, typer.Argument(dir_okay=False, help="The backup file.")]


def _print_counts(title: str, counts: dict[str, int]) -> None:
    rows = table(("table", "rows"), title)
    for name, count in counts.items():
        rows.add_row(name, str(count))
    console().print(rows)


def backup(
    file: File,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Copy the store to FILE, also while the agent runs; FILE must not exist yet."""
    if file.exists():
        fail(f"{file} exists; choose a new file name")
    with reading_store(data_dir, store_url) as store:
        try:
            if isinstance(store, SQLiteStore):
                store.backup(file)
                console().print(f"SQLite online backup of {store.path} written to {file}")
                return
            if not isinstance(store, SQLStore):
                fail(f"this store ({type(store).__name__}) cannot be backed up")
            counts = portable.dump(store, file)
        except KnowledgeError as exc:
            fail(str(exc))
    _print_counts(f"Dump written to {file}", counts)


def restore(
    file: File,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the contents of a store that is not empty.")
    ] = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Restore a backup (an SQLite store file or a dump) into the store.

    Stop the agent first. A store that holds anything is refused unless --force.
    """
    if not file.is_file():
        fail(f"no backup file at {file}")
    directory = data_dir or default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        store = open_store(store_url, directory)
    except KnowledgeError as exc:
        fail(str(exc))
    try:
        if not isinstance(store, SQLStore):
            fail(f"this store ({type(store).__name__}) cannot be restored into")
        counts = portable.restore(store, file, force)
    except KnowledgeError as exc:
        fail(str(exc))
    finally:
        store.close()
    _print_counts(f"Restored from {file}", counts)
