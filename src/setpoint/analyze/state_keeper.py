"""Keeps what a detector learned in the knowledge store, across restarts.

At start the agent restores the detector's saved state; every ``every`` seconds, and
when it stops, it saves it again. Only the snapshot is taken on the event loop (the
detector copies its arrays); encoding and writing run on the store's writer thread,
decoding at start on an executor thread. A save is skipped while the one before is
still being written, so a slow store never piles snapshots up in memory. A state that
cannot be used (another version, corrupt bytes, another window) is refused with one
log line and the detector starts fresh; nothing else is touched, and the next save
replaces it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from typing import Any, Protocol

from setpoint.analyze.snapshot import decode, encode
from setpoint.errors import KnowledgeError
from setpoint.knowledge.detector_state import DetectorStateRepository, StoredState
from setpoint.knowledge.writer import StoreWriter

log = logging.getLogger(__name__)


class Stateful(Protocol):
    """What a detector gives to be kept: a versioned snapshot, and taking one back."""

    def get_state(self) -> dict[str, Any]:
        """A snapshot with a ``version`` key: numpy arrays and JSON values."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot; KnowledgeError, changing nothing, when it does not fit."""
        ...


class StateKeeper:
    """Saves and restores one detector's state under ``name``."""

    def __init__(
        self,
        name: str,
        detector: Stateful,
        repo: DetectorStateRepository,
        writer: StoreWriter,
        every: float,
    ) -> None:
        self.name = name
        self.detector = detector
        self.every = every
        self._repo = repo
        self._writer = writer
        self._ready = False
        self._saved_at = 0.0
        self._writing: Future[Any] | None = None

    async def restore(self) -> bool:
        """Load the saved state into the detector; False when there was none or it was refused.

        Saving starts only after this, so an agent that never started does not
        overwrite a good state with an empty one; nor does one that could not read
        the store (it may hold weeks of seasons): it runs without saving.
        """
        self._saved_at = time.time()
        try:
            stored: StoredState | None = await self._writer.run(self._repo.load, self.name)
        except Exception as exc:
            log.error(
                "%s: saved state unreadable (%s); learning from scratch, not saving this run",
                self.name,
                exc,
            )
            return False
        self._ready = True
        try:
            if stored is None:
                log.info("%s: no saved state; learning from scratch", self.name)
                return False
            loop = asyncio.get_running_loop()
            self.detector.set_state(await loop.run_in_executor(None, decode, stored.state))
        except Exception as exc:  # a refused state must never stop the agent
            log.warning(
                "%s: saved state not used, learning from scratch: %s",
                self.name,
                exc,
                exc_info=not isinstance(exc, KnowledgeError),
            )
            return False
        age, size = self._saved_at - stored.saved_at, len(stored.state)
        log.info("%s: restored state saved %.0f s ago (%d bytes)", self.name, age, size)
        return True

    def tick(self, now: float) -> None:
        """Save when ``every`` seconds have passed since the last save (cheap otherwise)."""
        if now - self._saved_at >= self.every and (self._writing is None or self._writing.done()):
            self.save(now)

    def save(self, now: float) -> None:
        """Snapshot the detector now and write it on the writer thread (after restore)."""
        if not self._ready:
            return
        self._saved_at = now
        self._writing = self._writer.submit(self._store, self.detector.get_state(), now)

    def _store(self, state: dict[str, Any], now: float) -> None:
        """On the writer thread: encode and write one snapshot."""
        started = time.perf_counter()
        blob = encode(state)
        self._repo.save(self.name, int(state["version"]), blob, now)
        log.debug(
            "%s: saved %d bytes in %.3f s", self.name, len(blob), time.perf_counter() - started
        )
