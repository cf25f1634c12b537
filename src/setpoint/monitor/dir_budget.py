"""Directories held to a byte budget: the sensor behind ``disk.budgets``.

A spool, cache or log directory often has a size it must stay under long before its
filesystem fills: a quota, its share of a volume, what the operator allows it. Each
budget is walked every ``every`` seconds (links never followed; bytes allocated on
disk, as ``du`` counts them) and yields ``dir.used_bytes`` and ``dir.budget_bytes`` for
the entity ``dir:NAME``. The exhaustion forecast watches the difference as a disk
headroom, so a directory filling toward its budget fires ``disk.exhaustion_predicted``
on ``dir:NAME`` like a filling mount, and a burst that is removed again does not.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

from setpoint.clock import Clock, SystemClock
from setpoint.config.models import DirBudget
from setpoint.errors import SensorUnavailable
from setpoint.model import Sample

USED = "dir.used_bytes"
BUDGET = "dir.budget_bytes"


def dir_entity(name: str) -> str:
    """Entity name of a budgeted directory.

    >>> dir_entity("spool")
    'dir:spool'
    """
    return f"dir:{name}"


def allocated_bytes(root: Path) -> int:
    """Bytes allocated to the regular files under ``root``; links are not followed.

    Files or directories removed during the walk are skipped, not errors.
    """
    total, todo = 0, [os.fspath(root)]
    while todo:
        try:
            entries = os.scandir(todo.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total


class DirBudgetSensor:
    """Reads one budgeted directory every ``every`` seconds; nothing in between."""

    def __init__(self, name: str, budget: DirBudget, clock: Clock | None = None) -> None:
        self.name = f"dir-budget:{name}"
        self.entity = dir_entity(name)
        self.budget = budget
        self._clock: Clock = clock or SystemClock()
        self._due = -math.inf

    def collect(self) -> list[Sample]:
        """Used and budget bytes when a walk is due; SensorUnavailable if the path is gone."""
        now = self._clock.monotonic()
        if now < self._due:
            return []
        self._due = now + self.budget.every
        path = self.budget.path
        if not path.is_dir():
            raise SensorUnavailable(f"{self.name}: {path} is not a directory")
        used = float(allocated_bytes(path))
        ts = self._clock.time()
        return [
            Sample(USED, used, ts, self.entity),
            Sample(BUDGET, float(self.budget.size), ts, self.entity),
        ]
