"""The faults ``setpoint chaos`` injects, one scenario each, in the order they run.

A scenario names the service whose decisions count as its detection and injects its
fault into a running :class:`~setpoint.chaos.victims.Lab`. The fault it returns says
when it is healed (judged from outside, never from setpoint's own verdict), reports
damage beyond its target, and undoes whatever it left behind.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from setpoint.chaos.victims import KEY_LIMIT, REDIS_URL, Lab, set_fault, victim_answer

WRITERS = 5


class Fault(Protocol):
    """An injected fault: whether it is healed, what else it hurt, how to undo it."""

    def healed(self) -> bool:
        """True once the victim works again, as seen from outside."""
        ...

    def damage(self) -> list[str]:
        """Harm done beyond the target (e.g. a bystander's keys gone); empty if none."""
        ...

    def undo(self) -> None:
        """Remove what the fault left behind; safe to call at any point."""
        ...


@dataclass(frozen=True)
class Scenario:
    """One fault: its name, the service it breaks and how it breaks it."""

    name: str
    service: str
    summary: str
    inject: Callable[[Lab], Fault]


def _is_victim(pid: int) -> bool:
    """True when ``pid`` is still a chaos victim (so it is safe to signal)."""
    try:
        return b"setpoint.chaos.victim" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class ProcessFault:
    """A victim process broken in place; healed when a new victim process answers."""

    def __init__(self, lab: Lab, pid: int) -> None:
        self.port = lab.names.victim_port
        self.pid = pid

    def healed(self) -> bool:
        """A 200 from the victim port, served by a pid other than the broken one."""
        answer = victim_answer(self.port)
        return answer is not None and answer.get("pid") != self.pid

    def damage(self) -> list[str]:
        """A process fault only harms its own process."""
        return []

    def undo(self) -> None:
        """Let a stopped victim run again if setpoint left it behind."""
        if _is_victim(self.pid):
            os.kill(self.pid, signal.SIGCONT)


def _signal(sig: signal.Signals) -> Callable[[Lab], Fault]:
    def inject(lab: Lab) -> Fault:
        pid = lab.healthy_pid("victim")
        if pid is None or not _is_victim(pid):
            raise RuntimeError("the victim is not running healthy")
        os.kill(pid, sig)
        return ProcessFault(lab, pid)

    return inject


def _mode(mode: str) -> Callable[[Lab], Fault]:
    def inject(lab: Lab) -> Fault:
        pid = lab.healthy_pid("victim")
        if pid is None:
            raise RuntimeError("the victim is not running healthy")
        set_fault(lab.names.victim_port, mode)
        return ProcessFault(lab, pid)

    return inject


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


def _pg_idle(lab: Lab) -> Fault:
    return IdleTransaction(lab.names.pg_url)


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


def _redis_bloat(lab: Lab) -> Fault:
    return KeyBloat(lab.names.key_prefix)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("crash", "victim", "kill -9 of the victim", _signal(signal.SIGKILL)),
        Scenario("hang", "victim", "SIGSTOP of the victim", _signal(signal.SIGSTOP)),
        Scenario("slow", "victim", "the victim answers after 5 s", _mode("slow")),
        Scenario("error", "victim", "the victim answers 500", _mode("error")),
        Scenario(
            "pg-idle",
            "db-app",
            f"a session idle in transaction, {WRITERS} writers blocked",
            _pg_idle,
        ),
        Scenario(
            "redis-bloat",
            "cache-app",
            f"{KEY_LIMIT * 2} keys past a {KEY_LIMIT} budget",
            _redis_bloat,
        ),
    )
}
