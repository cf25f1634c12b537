"""setpoint's own sub-cgroups, ``setpoint/<target>``, on cgroup v1 or v2.

On v1 each controller is its own hierarchy (``<root>/cpu``, ``<root>/memory``); on
v2 there is one tree (``<root>``) whose controllers are enabled for children through
``cgroup.subtree_control``. Either way a process is moved by writing its pid to
``cgroup.procs``, and where it came from is read from ``/proc/<pid>/cgroup`` so a
rollback can put it back. Only setpoint's own groups are ever created or removed.

Errors are left as :class:`OSError`; the actuators translate them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Version = Literal["auto", "v1", "v2"]


def detect(root: Path, controller: str) -> Literal["v1", "v2"]:
    """Which cgroup version serves ``controller`` under ``root``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     (Path(d) / "cgroup.controllers").write_text("cpu memory")
    ...     detect(Path(d), "cpu")
    10
    'v2'
    """
    if (root / "cgroup.controllers").is_file():
        return "v2"
    if (root / controller / "cgroup.procs").is_file():
        return "v1"
    raise FileNotFoundError(f"no cgroup v1 or v2 hierarchy for {controller} under {root}")


def group_name(entity: str) -> str:
    """A safe directory name for a target entity: no separators, no dot-dot.

    >>> group_name("service:web")
    'service-web'
    >>> group_name("../../etc")
    'etc'
    """
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", entity).strip("-.")
    return re.sub(r"\.\.+", ".", name) or "target"


@dataclass(frozen=True)
class Cgroup:
    """The group ``setpoint/<name>`` of one controller."""

    root: Path
    controller: str
    name: str
    version: Literal["v1", "v2"]
    proc_root: Path = Path("/proc")

    @classmethod
    def open(
        cls, root: Path, controller: str, entity: str, version: Version, proc_root: Path
    ) -> Cgroup:
        """The group for ``entity``; ``version="auto"`` looks at the hierarchy."""
        chosen = detect(root, controller) if version == "auto" else version
        return cls(root, controller, group_name(entity), chosen, proc_root)

    @property
    def hierarchy(self) -> Path:
        """The mount the controller lives in."""
        return self.root / self.controller if self.version == "v1" else self.root

    @property
    def path(self) -> Path:
        """The directory of the group."""
        return self.hierarchy / "setpoint" / self.name

    def exists(self) -> bool:
        """True once the group was created."""
        return self.path.is_dir()

    def origin(self, pid: int) -> Path:
        """The directory of the group ``pid`` is in now, from ``/proc/<pid>/cgroup``."""
        text = (self.proc_root / str(pid) / "cgroup").read_text()
        for line in text.splitlines():
            _, controllers, rel = line.split(":", 2)
            v2 = self.version == "v2"
            if (v2 and controllers == "") or (not v2 and self.controller in controllers.split(",")):
                return self.hierarchy / rel.lstrip("/")
        raise FileNotFoundError(f"pid {pid} is in no {self.version} {self.controller} group")

    def create(self) -> None:
        """Make the group; on v2 enable the controller for it first."""
        if self.version == "v2":
            (self.hierarchy / "setpoint").mkdir(exist_ok=True)
            for parent in (self.hierarchy, self.hierarchy / "setpoint"):
                (parent / "cgroup.subtree_control").write_text(f"+{self.controller}\n")
        self.path.mkdir(parents=True, exist_ok=True)

    def write(self, file: str, value: str) -> None:
        """Write one control file of the group."""
        (self.path / file).write_text(value + "\n")

    def read(self, file: str) -> str:
        """Read one control file of the group."""
        return (self.path / file).read_text().strip()

    def members(self) -> list[int]:
        """The pids in the group now."""
        if not self.exists():
            return []
        return [int(p) for p in self.read("cgroup.procs").split()]

    def holds(self, pid: int) -> bool:
        """True when ``pid`` is in this group."""
        try:
            return self.origin(pid) == self.path
        except (OSError, ValueError):
            return False

    @staticmethod
    def move(pid: int, into: Path) -> None:
        """Move ``pid`` (all its threads) into the group at ``into``."""
        (into / "cgroup.procs").write_text(f"{pid}\n")

    def remove(self, rmdir: Callable[[Path], None] = os.rmdir) -> None:
        """Remove the (empty) group; ``setpoint/`` itself stays for other targets.

        cgroupfs removes a group's interface files with it; ``rmdir`` is injectable
        only so a fake tree of plain files can do the same.
        """
        if self.exists():
            rmdir(self.path)
