"""Connections to one SQLite file: one per thread, opened on first use, closed together.

The agent writes from one executor thread while API workers read from others and the
CLI reads from another process. A sqlite3 connection must not be shared between
threads that use it at the same time, so each thread gets its own. WAL mode lets
readers go on while the writer writes; ``BEGIN IMMEDIATE`` takes the write lock at the
start of a transaction, so two writers wait (up to ``busy_timeout``) instead of
deadlocking.

Checkpoints (copying the WAL back into the database file, then an fsync) run on a
thread of their own, :class:`Checkpointer`, so no write waits for one.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from setpoint.errors import KnowledgeError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long a connection waits for another one's lock before failing."""

CHECKPOINT_INTERVAL_S = 1.0
"""How often the checkpointer copies the WAL back into the database file."""

WAL_AUTOCHECKPOINT_PAGES = 10_000
"""The WAL size (pages of 4 KiB) past which a commit checkpoints by itself.

SQLite's default, 1,000, makes every few hundredth commit copy the WAL back and fsync
the file inside the commit (milliseconds instead of tens of microseconds). The
checkpointer keeps the WAL far below this, so it is only a backstop should that
thread fall behind.
"""


def _floor(value: float | None) -> int | None:
    return None if value is None else math.floor(value)


class SQLiteConnections:
    """The connections of one store to its file, at most one per thread."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._open = False
        self._checkpointer: Checkpointer | None = None

    def start(self) -> sqlite3.Connection:
        """Check the file for corruption and switch it to WAL; return this thread's connection.

        A file that is not a healthy SQLite database raises KnowledgeError naming the
        file and the problem; the file is left exactly as it was.
        """
        with self._lock:
            self._open = True
        try:
            conn = self.connection()
            problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise KnowledgeError(
                    f"{self.path}: SQLite quick_check failed, the file was left as it is: "
                    + "; ".join(problems[:5])
                )
            mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.Error as exc:
            self.close(checkpoint=False)
            raise KnowledgeError(
                f"{self.path}: not a usable SQLite database, the file was left as it is: {exc}"
            ) from exc
        except KnowledgeError:
            self.close(checkpoint=False)
            raise
        if mode != "wal":
            logger.warning("%s: journal mode is %s, not wal; readers may wait", self.path, mode)
        self._checkpointer = Checkpointer(self.path, self._connect)
        self._checkpointer.start()
        return conn

    def connection(self) -> sqlite3.Connection:
        """Return this thread's connection, opened on first use."""
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if not self._open:
                raise KnowledgeError(f"{self.path}: the store is not open")
            conn = self._connect()
            self._all.append(conn)
        local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise KnowledgeError(f"{self.path}: cannot open: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.create_function("floor", 1, _floor, deterministic=True)
        except sqlite3.Error as exc:
            conn.close()
            raise KnowledgeError(
                f"{self.path}: not a usable SQLite database, the file was left as it is: {exc}"
            ) from exc
        return conn

    @contextmanager
    def read(self, what: str) -> Iterator[sqlite3.Connection]:
        """Lend this thread's connection for reading; errors become KnowledgeError."""
        try:
            yield self.connection()
        except sqlite3.Error as exc:
            raise KnowledgeError(f"{self.path}: {what}: {exc}") from exc
        except ValueError as exc:
            raise KnowledgeError(f"{self.path}: {what}: unreadable record: {exc}") from exc

    @contextmanager
    def write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction on this thread's connection: committed, or rolled back on error."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise KnowledgeError(f"{self.path}: {what}: {exc}") from exc
        finally:
            if conn.in_transaction:
                conn.rollback()

    def close(self, checkpoint: bool = True) -> None:
        """Close every connection opened, whichever thread opened it; checkpoint the WAL first.

        Call it once the threads using the store have stopped.
        """
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        with self._lock:
            conns, self._all = self._all, []
            self._open = False
            self._local = threading.local()
        try:
            if checkpoint and conns:
                conns[0].execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            raise KnowledgeError(f"{self.path}: checkpoint at close: {exc}") from exc
        finally:
            for conn in conns:
                conn.close()


class Checkpointer:
    """Copies the WAL back into the database file once a second, on a thread of its own.

    A PASSIVE checkpoint takes no lock that writers wait for: they go on appending to
    the WAL while it copies and fsyncs. A failed checkpoint is logged (once until one
    succeeds again) and tried again at the next tick; SQLite's own automatic
    checkpoint remains as a backstop.
    """

    def __init__(
        self,
        path: Path,
        connect: Callable[[], sqlite3.Connection],
        interval: float = CHECKPOINT_INTERVAL_S,
    ) -> None:
        self.path = path
        self._connect = connect
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; it opens its own connection."""
        self._thread = threading.Thread(
            target=self._run, name=f"sqlite-checkpoint:{self.path.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close its connection; returns once it has."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            conn = self._connect()
        except KnowledgeError as exc:
            logger.warning("%s: no checkpoints off the write path: %s", self.path, exc)
            return
        failing = False
        wal, seen = Path(f"{self.path}-wal"), -1
        try:
            while not self._stop.wait(self._interval):
                changed = _mtime_ns(wal)
                if changed == seen:  # nothing written since the last checkpoint
                    continue
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    seen = changed
                except sqlite3.Error as exc:
                    if not failing:
                        logger.warning("%s: checkpoint failed: %s", self.path, exc)
                    failing = True
                else:
                    if failing:
                        logger.info("%s: checkpoints recovered", self.path)
                    failing = False
        finally:
            conn.close()


def _mtime_ns(path: Path) -> int:
    """When ``path`` was last written, or -1 when it does not exist."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return -1
