"""Where the failure model lives: two files in ``<data dir>/models/``.

A module of its own so the agent can look for the model without importing the code
that reads it.
"""

from __future__ import annotations

from pathlib import Path

MODEL_FILE = "failure.json"
"""XGBoost's own JSON of the trees."""

META_FILE = "failure.meta.json"
"""Features, dataset spec, training time and metrics, and the model file's checksum."""


def models_dir(data_dir: Path) -> Path:
    """Where the data dir keeps trained models.

    >>> models_dir(Path("/var/lib/setpoint")).as_posix()
    '/var/lib/setpoint/models'
    """
    return data_dir / "models"
