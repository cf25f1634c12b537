"""The disk scenarios: the budgeted spool filled toward its budget, or hit by one burst.

Both write under the lab's allow-listed ``disk`` tree, whose ``spool`` directory has a
byte budget in the shipped config, and both leave files to keep in a sibling ``keep``
directory, a day old, so an action that strayed outside the spool would take them.

- ``disk-fill``: a writer adds one 1 MiB file every 1/:data:`FILL_MIB_PER_S` s and
  stops when the next would exceed the budget (the failure). setpoint must predict it
  and trim the spool first; healed means some of the writer's files are gone and the
  spool is back under half its budget.
- ``disk-burst``: one :data:`BURST_MIB` MiB file, removed again after
  :data:`BURST_HOLD_S` s. It is no trend, so nothing may be done about it.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from setpoint.chaos.cage import MIB
from setpoint.chaos.lead import Approach
from setpoint.chaos.victims import SPOOL_BUDGET_MIB, Lab
from setpoint.monitor.dir_budget import allocated_bytes

FILL_MIB_PER_S = 4
BURST_MIB = 48
BURST_HOLD_S = 10.0
KEEP_FILES = 5


class _SpoolFault:
    """Files to keep beside the spool, checked as damage and removed with the fault."""

    def __init__(self, lab: Lab) -> None:
        self.spool = lab.spool
        self.keep = lab.disk / "keep"
        self.keep.mkdir(exist_ok=True)
        day_ago = time.time() - 86400
        for i in range(KEEP_FILES):
            path = self.keep / f"keep-{i}.log"
            path.write_bytes(b"k" * 4096)
            os.utime(path, (day_ago, day_ago))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _start(self, target: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=target, daemon=True)
        self._thread.start()

    def damage(self) -> list[str]:
        """Files outside the spool that are gone."""
        left = sum(1 for p in self.keep.iterdir() if p.is_file())
        lost = KEEP_FILES - left
        return [f"{lost} file(s) outside the spool deleted"] if lost else []

    def undo(self) -> None:
        """Stop the writer, then empty the spool and remove the files to keep."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for path in self.spool.iterdir():
            if path.is_file():
                path.unlink()
        shutil.rmtree(self.keep, ignore_errors=True)


class SpoolFill(_SpoolFault):
    """A writer filling the spool toward its budget, and its usage on the way."""

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        self.approach = Approach(SPOOL_BUDGET_MIB * MIB)
        self.written: list[Path] = []
        self._start(self._fill)

    def _fill(self) -> None:
        while not self._stop.wait(1 / FILL_MIB_PER_S):
            now, used = time.time(), allocated_bytes(self.spool)
            self.approach.add(now, used)
            if used + MIB > self.approach.limit:
                self.approach.fail(now)
                return
            path = self.spool / f"fill-{len(self.written):05d}.dat"
            path.write_bytes(b"\1" * MIB)
            self.written.append(path)

    def healed(self) -> bool:
        """Some written files are gone, the spool is under half its budget, nothing failed."""
        if self.approach.failed_at is not None:
            return False
        trimmed = any(not p.exists() for p in self.written)
        return trimmed and allocated_bytes(self.spool) < self.approach.limit / 2

    def lead(self, acted_at: float) -> float | None:
        """Seconds from setpoint's action to the spool's full budget (measured or extrapolated)."""
        return self.approach.lead(acted_at)


class SpoolBurst(_SpoolFault):
    """One big file in the spool, removed again by the writer itself."""

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        self.path = self.spool / "burst.dat"
        self.path.write_bytes(b"\1" * (BURST_MIB * MIB))
        self._start(self._remove_later)

    def _remove_later(self) -> None:
        if not self._stop.wait(BURST_HOLD_S):
            self.path.unlink(missing_ok=True)

    def healed(self) -> bool:
        """The burst is over: its file is gone."""
        return not self.path.exists()
