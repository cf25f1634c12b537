"""The small SQL surface that repositories are written against, for every backend.

A repository takes a :class:`Database` and writes portable SQL with ``?`` placeholders;
each backend's adapter lends connections whose rows are read by column name
(``row["ts"]``) and translates placeholders where its driver needs another style. So
one repository serves SQLite and PostgreSQL alike, and the contract suite proves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Row(Protocol):
    """A result row, read by column name."""

    def __getitem__(self, key: str, /) -> Any:
        """The value of one column."""
        ...


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT, UPDATE or DELETE."""
        ...

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the remaining rows."""
        ...


class Connection(Protocol):
    """Runs statements with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        """Run one statement."""
        ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        """Run one statement once per parameter row."""
        ...


class Database(Protocol):
    """Lends connections for reading and for one write transaction.

    Backend errors inside either block are raised as
    :class:`~setpoint.errors.KnowledgeError` naming ``what`` was being done.
    """

    dialect: str
    """``sqlite`` or ``postgresql``: for the rare statement that must differ."""

    def read(self, what: str) -> AbstractContextManager[Connection]:
        """A connection for reading."""
        ...

    def write(self, what: str) -> AbstractContextManager[Connection]:
        """A connection inside one transaction, committed at the end of the block."""
        ...


def where_clause(*conditions: tuple[str, object]) -> tuple[str, list[object]]:
    """Build a WHERE clause of the conditions whose value is not None, and its parameters.

    A tuple value fills as many placeholders as it has items.

    >>> where_clause(("entity = ?", "host"), ("ts >= ?", None))
    ('WHERE entity = ?', ['host'])
    >>> where_clause(("(a = ? OR b = ?)", ("x", "X")))
    ('WHERE (a = ? OR b = ?)', ['x', 'X'])
    >>> where_clause()
    ('', [])
    """
    used = [(sql, value) for sql, value in conditions if value is not None]
    params: list[object] = []
    for _, value in used:
        params.extend(value if isinstance(value, tuple) else (value,))
    return ("WHERE " + " AND ".join(sql for sql, _ in used) if used else ""), params
