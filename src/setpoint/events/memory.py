"""The in-process bus: the default, with no broker."""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from typing import Any

from setpoint.events.base import Handler, PayloadT, Topic, Unsubscribe

log = logging.getLogger(__name__)


class MemoryBus:
    """Calls subscribers in order; a failing handler is logged and counted, never fatal.

    >>> import asyncio
    >>> bus, seen = MemoryBus(), []
    >>> off = bus.subscribe(Topic[int]("n"), seen.append)
    >>> asyncio.run(bus.publish(Topic[int]("n"), 1))
    >>> off()
    >>> asyncio.run(bus.publish(Topic[int]("n"), 2))
    >>> seen
    [1]
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler[Any]]] = defaultdict(list)
        self.handler_errors = 0

    async def publish(self, topic: Topic[PayloadT], payload: PayloadT) -> None:
        """Deliver ``payload`` to every subscriber of ``topic``, in subscription order."""
        for handler in list(self._handlers.get(topic.name, ())):
            try:
                result = handler(payload)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.handler_errors += 1
                log.exception("handler %r for topic %s failed", handler, topic.name)

    def subscribe(self, topic: Topic[PayloadT], handler: Handler[PayloadT]) -> Unsubscribe:
        """Call ``handler`` for each payload on ``topic`` until unsubscribed."""
        handlers = self._handlers[topic.name]
        handlers.append(handler)

        def unsubscribe() -> None:
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe
