"""The ServiceHandle contract shared by the monitor (watching) and execute (restarting)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ExitInfo:
    """How a service's main process ended; ``expected`` when setpoint stopped it."""

    pid: int
    returncode: int | None
    expected: bool

    def describe(self) -> str:
        """A short human reason, e.g. ``killed by SIGKILL``.

        >>> ExitInfo(7, -9, False).describe()
        'pid 7 killed by SIGKILL'
        >>> ExitInfo(7, 3, False).describe()
        'pid 7 exited with status 3'
        """
        import signal

        if self.returncode is None:
            return f"pid {self.pid} is gone"
        if self.returncode < 0:
            return f"pid {self.pid} killed by {signal.Signals(-self.returncode).name}"
        return f"pid {self.pid} exited with status {self.returncode}"


ExitCallback = Callable[[ExitInfo], None]


class Maintenance:
    """Marks a window in which exits and failed probes are expected (a restart).

    >>> m = Maintenance()
    >>> with m.window():
    ...     m.active
    True
    >>> m.active
    False
    """

    def __init__(self) -> None:
        self._depth = 0

    @property
    def active(self) -> bool:
        """True while setpoint itself is stopping or starting the service."""
        return self._depth > 0

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        """Enter a maintenance window for the duration of the block."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1


class ServiceHandle(Protocol):
    """A service's process: find it, start it, stop it, hear when it exits."""

    name: str
    maintenance: Maintenance

    def pid(self) -> int | None:
        """The main process id, or None when it is not running."""
        ...

    async def start(self) -> None:
        """Start the service (no-op when it already runs)."""
        ...

    async def stop(self) -> None:
        """SIGTERM, wait the grace period, SIGKILL; a stopped process is continued first."""
        ...

    def on_exit(self, callback: ExitCallback) -> None:
        """Call ``callback`` as soon as the main process exits."""
        ...

    def describe(self) -> dict[str, Any]:
        """What to show about the service in status and decisions."""
        ...


@runtime_checkable
class Closeable(Protocol):
    """A handle that holds something to release (a pidfd) when watching ends."""

    def close(self) -> None:
        """Release what the handle holds."""
        ...
