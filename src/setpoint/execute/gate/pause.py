"""``setpoint pause``: the global kill switch, kept in a file so it survives restarts.

The file (``paused.json`` in the data dir) is the one source of truth: the agent reads
it at every verdict, the API writes it while the agent runs, and the command line
writes it directly when the agent is down. A file that exists but cannot be read
counts as paused: when in doubt, act on nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

PAUSE_FILE = "paused.json"
"""The kill switch's file name inside the data dir."""


@dataclass(frozen=True, slots=True)
class PauseState:
    """Who paused setpoint, when, and why."""

    since: float
    by: str
    reason: str = ""

    def describe(self) -> str:
        """The refusal reason every verdict gives while paused.

        >>> PauseState(0.0, "alice", "deploy").describe()
        'paused by alice: deploy'
        """
        return f"paused by {self.by}" + (f": {self.reason}" if self.reason else "")


class KillSwitch:
    """Reads and writes the pause file.

    >>> import tempfile
    >>> switch = KillSwitch(Path(tempfile.mkdtemp()) / PAUSE_FILE)
    >>> switch.pause("alice", "deploy", now=1.0).by, switch.state() is not None
    ('alice', True)
    >>> switch.resume(), switch.state()
    (True, None)
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def state(self) -> PauseState | None:
        """The pause in force, or None when setpoint may act."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return PauseState(float(data["since"]), str(data["by"]), str(data.get("reason", "")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return PauseState(0.0, "an unreadable pause file", f"{self.path}: {exc}")

    def pause(self, by: str, reason: str, now: float) -> PauseState:
        """Stop every action from now on; an existing pause is kept as it is."""
        current = self.state()
        if current is not None:
            return current
        state = PauseState(now, by, reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(state)), encoding="utf-8")
        os.replace(partial, self.path)
        return state

    def resume(self) -> bool:
        """Let actions through again; False when setpoint was not paused."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
