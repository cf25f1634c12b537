"""Where setpoint keeps its data on this machine.

Resolved when a command runs, never at import: ``$XDG_DATA_HOME/setpoint`` when that
variable holds an absolute path (the XDG spec ignores relative ones), otherwise
``~/.local/share/setpoint``.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """Return the data directory used when none is given on the command line."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "setpoint"


def store_path(data_dir: Path) -> Path:
    """Return the path of the SQLite knowledge store inside a data directory.

    >>> store_path(Path("/var/lib/setpoint")).as_posix()
    '/var/lib/setpoint/setpoint.db'
    """
    return data_dir / "setpoint.db"
