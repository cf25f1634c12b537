"""The embedded knowledge store: one SQLite file in WAL mode.

Open it with :func:`open_sqlite_store`, which checks the file, switches it to WAL and applies
the migrations. Each repository method is one statement or a few short transactions,
safe to call from any thread; see :mod:`setpoint.knowledge.sqlite_connection` for how
threads and processes share the file.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from setpoint.clock import Clock, SystemClock
from setpoint.errors import KnowledgeError
from setpoint.knowledge.migrate import apply_sqlite_migrations, load_migrations
from setpoint.knowledge.sqlite_connection import SQLiteConnections
from setpoint.knowledge.store import SQLStore
from setpoint.paths import store_path

logger = logging.getLogger(__name__)


class SQLiteStore(SQLStore):
    """Everything setpoint knows, in one SQLite file; :func:`open_sqlite_store` opens one.

    The constructor only stores its arguments; :meth:`open` touches the file.
    """

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = path
        self._connections = SQLiteConnections(path)
        super().__init__(self._connections, clock or SystemClock())

    @classmethod
    def from_url(cls, url: str | None, data_dir: Path, clock: Clock | None = None) -> SQLiteStore:
        """Open the store a ``sqlite:///PATH`` URL names, or the data dir's when None."""
        return open_sqlite_store(store_path(data_dir) if url is None else sqlite_path(url), clock)

    def open(self) -> None:
        """Check the file for corruption, switch it to WAL and bring its schema up to date."""
        conn = self._connections.start()
        try:
            applied = apply_sqlite_migrations(conn, load_migrations("sqlite"), self.clock.time())
        except (sqlite3.Error, KnowledgeError) as exc:
            self._connections.close(checkpoint=False)
            raise KnowledgeError(f"{self.path}: cannot migrate: {exc}") from exc
        if applied:
            logger.info("%s: applied migrations %s", self.path, applied)

    def backup(self, target: Path) -> None:
        """Copy the store into a new SQLite file with the online backup API.

        Safe while the agent writes: SQLite copies a consistent snapshot, page by page,
        and starts again if a writer changes a page it has copied. The copy is left in
        rollback-journal mode, one self-contained file.
        """
        source = self._connections.connection()
        try:
            copy = sqlite3.connect(target)
        except sqlite3.Error as exc:
            raise KnowledgeError(f"{target}: cannot create the backup: {exc}") from exc
        try:
            source.backup(copy, pages=1024)
            copy.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as exc:
            raise KnowledgeError(f"backup of {self.path} to {target} failed: {exc}") from exc
        finally:
            copy.close()


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///PATH`` URL names (``sqlite:////abs`` for an absolute path).

    >>> sqlite_path("sqlite:////var/lib/setpoint/setpoint.db").as_posix()
    '/var/lib/setpoint/setpoint.db'
    >>> sqlite_path("mysql://x")
    Traceback (most recent call last):
    setpoint.errors.KnowledgeError: not an SQLite store URL (sqlite:///PATH): 'mysql://x'
    """
    if not url.startswith("sqlite:///"):
        raise KnowledgeError(f"not an SQLite store URL (sqlite:///PATH): {url!r}")
    return Path(url.removeprefix("sqlite:///"))


def open_sqlite_store(path: Path, clock: Clock | None = None) -> SQLiteStore:
    """Open the SQLite store at ``path``: checked, in WAL mode and migrated.

    A missing file is created. A file that is not a healthy SQLite database raises
    KnowledgeError naming it; nothing in it is changed or deleted.
    """
    store = SQLiteStore(path, clock)
    store.open()
    return store
