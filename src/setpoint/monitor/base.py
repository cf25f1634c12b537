"""Contracts of the monitor stage: sensors and probes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from setpoint.model import Sample


class Sensor(Protocol):
    """Takes readings of one part of the system.

    ``collect`` may block briefly (procfs); the scheduler runs it off the event loop. It
    raises :class:`~setpoint.errors.SensorUnavailable` when it
    cannot read, which the scheduler turns into a health state.
    """

    name: str

    def collect(self) -> Sequence[Sample]:
        """Read every series this sensor knows, now."""
        ...


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One check of a service: did it answer, how fast, and what went wrong."""

    ok: bool
    latency: float
    detail: str = ""


class Probe(Protocol):
    """Asks a service whether it works, within a timeout."""

    async def check(self) -> ProbeResult:
        """Run one check; never raises for a failing service, returns ok=False."""
        ...
