"""The Actuator contract: preview, apply, verify (and rollback where an inverse exists).

Actuators take typed parameters (their ``Config`` model), act through argv or
library calls only, and never decide whether they may act: the safety gate does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from setpoint.monitor.service_watch import ServiceWatch


class Risk(StrEnum):
    """How much harm an action can do if it is wrong."""

    SAFE = "safe"
    DISRUPTIVE = "disruptive"
    DESTRUCTIVE = "destructive"


@dataclass(frozen=True)
class ActionContext:
    """What an actuator acts on: an entity and, for services, its watch and handle."""

    entity: str
    service: ServiceWatch | None = None

    def snapshot(self) -> dict[str, Any]:
        """The target's state now, recorded before and after an action."""
        return self.service.status() if self.service is not None else {"entity": self.entity}


@dataclass(frozen=True)
class Verification:
    """Whether an action had its effect, with the evidence."""

    ok: bool
    detail: str
    measurements: dict[str, Any] = field(default_factory=dict)


class Actuator(Protocol):
    """A typed remediation."""

    Config: ClassVar[type[BaseModel]]
    risk: ClassVar[Risk]

    async def preview(self, ctx: ActionContext) -> str:
        """Say exactly what :meth:`apply` would do, changing nothing."""
        ...

    async def apply(self, ctx: ActionContext) -> str:
        """Do it; return what was done. Raise ApplyFailed when it cannot be done."""
        ...

    async def verify(self, ctx: ActionContext) -> Verification:
        """Check that the action had its effect."""
        ...


@runtime_checkable
class Reversible(Protocol):
    """An actuator with an inverse."""

    async def rollback(self, ctx: ActionContext) -> str:
        """Undo :meth:`Actuator.apply`; return what was done."""
        ...
