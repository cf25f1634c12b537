"""Command probes for the database scenarios of ``setpoint chaos``.

A probe exits 0 while the resource is fine and 1 while it is not, so the shipped
config can watch PostgreSQL and Redis through an ordinary ``probe: {command: ...}``:

- ``pg-idle URL DATABASE SECONDS``: fails while a session on DATABASE has been idle
  in a transaction for longer than SECONDS (it holds its locks and blocks writers);
- ``pg-slow URL DATABASE SECONDS``: fails while a query on DATABASE has been running
  for longer than SECONDS;
- ``redis-keys URL PATTERN LIMIT``: fails while more than LIMIT keys match PATTERN
  (counted with SCAN, never KEYS).

Run as ``python -m setpoint.chaos.probe KIND ARGS...``; exit 2 on a usage error.
"""

from __future__ import annotations

import sys


def pg_idle(url: str, database: str, seconds: float) -> bool:
    """True when no session on ``database`` is idle in a transaction past ``seconds``."""
    import psycopg

    with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND state = 'idle in transaction'"
            " AND state_change < now() - make_interval(secs => %s)",
            (database, seconds),
        ).fetchone()
    return row is not None and row[0] == 0


def pg_slow(url: str, database: str, seconds: float) -> bool:
    """True when no query on ``database`` has been running for longer than ``seconds``."""
    import psycopg

    with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active'"
            " AND pid <> pg_backend_pid()"
            " AND query_start < now() - make_interval(secs => %s)",
            (database, seconds),
        ).fetchone()
    return row is not None and row[0] == 0


def redis_keys(url: str, pattern: str, limit: int) -> bool:
    """True when at most ``limit`` keys match ``pattern``."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        for count, _ in enumerate(client.scan_iter(match=pattern, count=1000), start=1):
            if count > limit:
                return False
        return True
    finally:
        client.close()


def main(argv: list[str]) -> int:
    """Run the probe named by ``argv[0]``; 0 healthy, 1 unhealthy, 2 usage error."""
    if len(argv) == 4 and argv[0] == "pg-idle":
        return 0 if pg_idle(argv[1], argv[2], float(argv[3])) else 1
    if len(argv) == 4 and argv[0] == "pg-slow":
        return 0 if pg_slow(argv[1], argv[2], float(argv[3])) else 1
    if len(argv) == 4 and argv[0] == "redis-keys":
        return 0 if redis_keys(argv[1], argv[2], int(argv[3])) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
