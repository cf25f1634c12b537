"""What tables a store holds, read from the database itself, for backup and restore.

Backup and restore copy every table the migrations made (``schema_migrations`` aside),
including those added later, without a list to keep up to date. A column the
database numbers itself (an identity column, SQLite's ``INTEGER PRIMARY KEY``) is not
copied: rows are copied in its order and the target numbers them again.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass

from setpoint.errors import KnowledgeError
from setpoint.knowledge.database import Connection


@dataclass(frozen=True, slots=True)
class Table:
    """One table: the columns copied, the order rows are read in, the tables it references."""

    name: str
    columns: tuple[str, ...]
    order: tuple[str, ...]
    parents: frozenset[str]


def _sqlite_table(conn: Connection, name: str) -> Table:
    info = list(conn.execute(f'PRAGMA table_info("{name}")'))
    keys = sorted((row for row in info if row["pk"]), key=lambda row: row["pk"])
    numbered = (
        [keys[0]["name"]] if len(keys) == 1 and str(keys[0]["type"]).upper() == "INTEGER" else []
    )
    parents = {str(row["table"]) for row in conn.execute(f'PRAGMA foreign_key_list("{name}")')}
    return Table(
        name,
        tuple(str(row["name"]) for row in info if row["name"] not in numbered),
        tuple(numbered or [str(row["name"]) for row in keys] or [str(info[0]["name"])]),
        frozenset(parents - {name}),
    )


def _postgres_table(conn: Connection, name: str) -> Table:
    columns = list(
        conn.execute(
            "SELECT column_name, is_identity FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (name,),
        )
    )
    numbered = [str(row["column_name"]) for row in columns if row["is_identity"] == "YES"]
    keys = [
        str(row["attname"])
        for row in conn.execute(
            "SELECT a.attname FROM pg_index AS i JOIN pg_attribute AS a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = to_regclass(?) AND i.indisprimary ORDER BY a.attnum",
            (name,),
        )
    ]
    parents = {
        str(row["parent"])
        for row in conn.execute(
            "SELECT confrelid::regclass::text AS parent FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid = to_regclass(?)",
            (name,),
        )
    }
    return Table(
        name,
        tuple(str(row["column_name"]) for row in columns if row["column_name"] not in numbered),
        tuple(numbered or keys or [str(columns[0]["column_name"])]),
        frozenset(parents - {name}),
    )


def tables(conn: Connection, dialect: str) -> list[Table]:
    """Every table of the store but ``schema_migrations``, each after those it references."""
    if dialect == "sqlite":
        names = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        describe = _sqlite_table
    elif dialect == "postgresql":
        names = conn.execute(
            "SELECT table_name AS name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        describe = _postgres_table
    else:
        raise KnowledgeError(f"no catalog for the {dialect!r} dialect")
    found = {
        table.name: table
        for table in (describe(conn, str(row["name"])) for row in list(names))
        if table.name != "schema_migrations"
    }
    order = graphlib.TopologicalSorter({n: found[n].parents & found.keys() for n in sorted(found)})
    return [found[name] for name in order.static_order()]


def schema_version(conn: Connection) -> int:
    """The newest migration applied to the store (0 for none)."""
    row = conn.execute("SELECT max(version) AS version FROM schema_migrations").fetchone()
    return int(row["version"] or 0)
