"""The database scenarios: PostgreSQL runaway queries and idle transactions, Redis bloat.

- ``pg-idle``: a session takes a row lock and idles in its transaction while
  :data:`WRITERS` writers queue behind it; healed when every writer got its row.
- ``pg-slow``: :data:`SLOW_QUERIES` report queries run far past their budget on the
  run's reports database, beside a session of quick queries that must go on
  undisturbed; healed when every slow query has ended.
- ``redis-bloat``: keys poured under the run's prefix past the cache app's budget,
  beside keys of another prefix that must stay; healed when the prefix is empty.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from setpoint.chaos.victims import KEY_LIMIT, REDIS_URL, Lab

WRITERS = 5
SLOW_QUERIES = 3


class IdleTransaction:
    """A session idle in a transaction holding a row lock, and writers queued behind it."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._holder = psycopg.connect(url, connect_timeout=5)
        self._holder.execute("UPDATE chaos SET n = n + 1 WHERE id = 1")
        self._done: list[str | None] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._write, args=(url,), daemon=True) for _ in range(WRITERS)
        ]
        for thread in self._threads:
            thread.start()

    def _write(self, url: str) -> None:
        """One writer: the same row, waiting on the holder's lock (20 s at most)."""
        import psycopg

        try:
            with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
                conn.execute("SET statement_timeout = '20s'")
                conn.execute("UPDATE chaos SET n = n + 1 WHERE id = 1")
            error = None
        except psycopg.Error as exc:
            error = str(exc).splitlines()[0]
        with self._lock:
            self._done.append(error)

    def healed(self) -> bool:
        """Every writer got its row: the lock holder is gone."""
        with self._lock:
            return len(self._done) == WRITERS and not any(self._done)

    def damage(self) -> list[str]:
        """Writers that failed instead of waiting (none should)."""
        with self._lock:
            return [f"writer failed: {error}" for error in self._done if error]

    def undo(self) -> None:
        """Close the holder (if setpoint did not) and wait for the writers."""
        self._holder.close()
        for thread in self._threads:
            thread.join(timeout=25)


def pg_idle(lab: Lab) -> IdleTransaction:
    """Open the idle transaction on the run's database, writers queued behind it."""
    return IdleTransaction(lab.names.pg_url)


class SlowQueries:
    """Runaway report queries (two minutes of ``pg_sleep``) beside a session of quick ones."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._slow = [
            psycopg.connect(url, connect_timeout=5, autocommit=True) for _ in range(SLOW_QUERIES)
        ]
        self._quick = psycopg.connect(url, connect_timeout=5, autocommit=True)
        self._ended: list[str | None] = []
        self._quick_errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run_slow, args=(conn,), daemon=True)
            for conn in self._slow
        ] + [threading.Thread(target=self._run_quick, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _run_slow(self, conn: Any) -> None:
        """One runaway query; records how it ended (the error that stopped it)."""
        import psycopg

        try:
            conn.execute("SET statement_timeout = '150s'")
            conn.execute("SELECT pg_sleep(120)")
            ended = None
        except psycopg.Error as exc:
            ended = str(exc).splitlines()[0]
        with self._lock:
            self._ended.append(ended)

    def _run_quick(self) -> None:
        """A well-behaved client: a small query every 100 ms until the scenario ends."""
        import psycopg

        while not self._stop.wait(0.1):
            try:
                self._quick.execute("SELECT count(*) FROM pg_class")
            except psycopg.Error as exc:
                with self._lock:
                    self._quick_errors.append(str(exc).splitlines()[0])
                return

    def healed(self) -> bool:
        """Every runaway query has ended."""
        with self._lock:
            return len(self._ended) == SLOW_QUERIES

    def damage(self) -> list[str]:
        """Quick queries that failed (none should)."""
        with self._lock:
            return [f"quick query failed: {error}" for error in self._quick_errors]

    def undo(self) -> None:
        """Cancel what still runs, stop the quick client and close every session."""
        self._stop.set()
        for conn in self._slow:
            with contextlib.suppress(Exception):
                conn.cancel_safe()
        for thread in self._threads:
            thread.join(timeout=10)
        for conn in [*self._slow, self._quick]:
            conn.close()


def pg_slow(lab: Lab) -> SlowQueries:
    """Start the runaway report queries on the run's reports database."""
    return SlowQueries(lab.names.reports_url)


class KeyBloat:
    """Keys poured under the run's prefix past the cache app's budget, beside keys to keep."""

    def __init__(self, prefix: str) -> None:
        import redis

        self._client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        self.pattern = f"{prefix}:*"
        self.keep = f"{prefix}-keep:*"
        pipe = self._client.pipeline(transaction=False)
        for i in range(100):
            pipe.set(f"{prefix}-keep:{i}", "x")
        for i in range(KEY_LIMIT * 2):
            pipe.set(f"{prefix}:{i}", "x" * 512)
        pipe.execute()

    def _count(self, pattern: str) -> int:
        return sum(1 for _ in self._client.scan_iter(match=pattern, count=1000))

    def healed(self) -> bool:
        """No key is left under the bloated prefix."""
        return self._count(self.pattern) == 0

    def damage(self) -> list[str]:
        """Keys outside the bloated prefix that were deleted."""
        left = self._count(self.keep)
        return [] if left == 100 else [f"{100 - left} bystander key(s) deleted"]

    def undo(self) -> None:
        """Delete both prefixes and close the client."""
        for pattern in (self.pattern, self.keep):
            keys = list(self._client.scan_iter(match=pattern, count=1000))
            if keys:
                self._client.unlink(*keys)
        self._client.close()


def redis_bloat(lab: Lab) -> KeyBloat:
    """Pour the run's keys past the cache app's budget."""
    return KeyBloat(lab.names.key_prefix)
