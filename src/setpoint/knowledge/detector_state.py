"""The detector-state contract: what each detector learned, kept across restarts.

A detector (the peripheral attention tier, a streaming detector) saves a snapshot of
its learned state under its name now and then and when the agent stops, and loads it
when the agent starts, so a restart does not mean warming up again. The store keeps
the newest snapshot per name as opaque bytes in the detector's own format, with that
format's version: the detector alone decides whether it can read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredState:
    """The newest saved snapshot of one detector: its bytes, format version and time."""

    name: str
    version: int
    state: bytes
    saved_at: float


class DetectorStateRepository(Protocol):
    """The newest learned state per detector name."""

    def save(self, name: str, version: int, state: bytes, saved_at: float) -> None:
        """Store ``state`` as the snapshot of ``name``, replacing the one before."""
        ...

    def load(self, name: str) -> StoredState | None:
        """The snapshot of ``name``, or None when none was saved."""
        ...

    def delete(self, name: str) -> bool:
        """Forget the snapshot of ``name``; False when there was none."""
        ...
