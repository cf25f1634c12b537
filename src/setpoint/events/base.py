"""Typed topics and the EventBus contract.

A :class:`Topic` carries the payload type, so publishers and subscribers are
type-checked. ``subscribe`` returns the callable that unsubscribes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from setpoint.model import Decision, Incident, Outcome, Sample, Symptom

PayloadT = TypeVar("PayloadT")

Handler = Callable[[PayloadT], Awaitable[None] | None]
Unsubscribe = Callable[[], None]


@dataclass(frozen=True)
class Topic(Generic[PayloadT]):
    """A named stream of payloads of one type."""

    name: str


class EventBus(Protocol):
    """Delivers each published payload to the topic's subscribers."""

    async def publish(self, topic: Topic[PayloadT], payload: PayloadT) -> None:
        """Deliver ``payload`` to every subscriber of ``topic``."""
        ...

    def subscribe(self, topic: Topic[PayloadT], handler: Handler[PayloadT]) -> Unsubscribe:
        """Call ``handler`` for each payload on ``topic`` until unsubscribed."""
        ...


SAMPLES: Topic[list[Sample]] = Topic("samples")
SYMPTOMS: Topic[Symptom] = Topic("symptoms")
INCIDENTS: Topic[Incident] = Topic("incidents")
DECISIONS: Topic[Decision] = Topic("decisions")
OUTCOMES: Topic[Outcome] = Topic("outcomes")
