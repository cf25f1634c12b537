"""Writes to the store off the event loop, in order, on one thread.

The loop hands every write to :class:`StoreWriter` and goes on; a failed write is
logged and counted, never lost silently, and :meth:`StoreWriter.drain` waits for the
writes in flight (at shutdown, so they are finished before the store closes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from setpoint.knowledge.base import KnowledgeStore

log = logging.getLogger(__name__)


class StoreWriter:
    """A single writer thread in front of a KnowledgeStore."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._pending: set[Future[Any]] = set()
        self.failures = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue ``fn(*args)`` on the writer thread; return its future."""
        future = self._pool.submit(fn, *args)
        self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        self._pending.discard(future)
        exc = future.exception()
        if exc is not None:
            self.failures += 1
            log.error("store write failed: %s", exc, exc_info=exc)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Queue ``fn(*args)`` and wait for its result (after earlier writes)."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    async def drain(self) -> None:
        """Wait until every queued write has finished."""
        while self._pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in list(self._pending)])

    def close(self) -> None:
        """Finish queued writes, stop the thread and close the store."""
        self._pool.shutdown(wait=True)
        self.store.close()
