"""The Actuator contract: preview, apply, verify (and rollback where an inverse exists).

Actuators take typed parameters (their ``Config`` model), act through argv or
library calls only, and never decide whether they may act: the safety gate does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.integrations import IntegrationsConfig
from setpoint.config.models import Regex
from setpoint.errors import PreviewFailed
from setpoint.monitor.process import find_pids
from setpoint.monitor.service_watch import ServiceWatch


class Risk(StrEnum):
    """How much harm an action can do if it is wrong."""

    SAFE = "safe"
    DISRUPTIVE = "disruptive"
    DESTRUCTIVE = "destructive"


class Blast(StrEnum):
    """How far an action's effect reaches: each actuator declares its ``blast``.

    The gate reads it to bound concurrent actions and the fraction of a group hit.
    """

    PROCESS = "process"  # the target process(es) only
    SERVICE = "service"  # one service, all of its processes and its clients
    FILES = "files"  # files under allow-listed paths
    HOST = "host"  # the whole machine (kernel caches, memory)
    EXTERNAL = "external"  # beyond this host (an HTTP call, a user command)


@dataclass(frozen=True)
class ActionContext:
    """What an actuator acts on: an entity and, for services, its watch and handle.

    ``disk_allow`` is the host's allow-list (config ``disk.allow``): the only trees
    file actuators may touch. ``integrations`` (config ``integrations``) holds the
    connection settings of the services that integration actuators name by instance.
    """

    entity: str
    service: ServiceWatch | None = None
    disk_allow: tuple[Path, ...] = ()
    integrations: IntegrationsConfig = field(default_factory=IntegrationsConfig)

    def snapshot(self) -> dict[str, Any]:
        """The target's state now, recorded before and after an action."""
        return self.service.status() if self.service is not None else {"entity": self.entity}

    def require_service(self) -> ServiceWatch:
        """The service watch of a service target; PreviewFailed for any other target."""
        if self.service is None:
            raise PreviewFailed(f"{self.entity} is not a configured service")
        return self.service

    async def verify_service(self, verify_timeout: float | None, settle: float) -> Verification:
        """The service passes its probe (or stays up ``settle`` s without one) in time.

        ``verify_timeout`` defaults to the service's own ``verify_timeout``.
        """
        watch = self.require_service()
        timeout = verify_timeout or watch.config.verify_timeout
        result = await watch.wait_healthy(timeout, settle)
        return Verification(
            result.ok,
            result.detail,
            {"probe_ok": result.ok, "probe_latency_s": round(result.latency, 4)},
        )


class ProcessTarget(BaseModel):
    """Parameters naming the process(es) to act on, beyond a service's main process.

    Give ``pid`` or ``match`` (a cmdline regex); with neither, the target is the
    service's main process. Process actuators' ``Config`` models inherit these fields.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pid: int | None = Field(None, gt=0, description="one process id")
    match: Regex | None = Field(None, min_length=1, description="cmdline regex")

    def pids(self, ctx: ActionContext, proc_root: Path = Path("/proc")) -> list[int]:
        """The target's pids now; PreviewFailed when there is none."""
        if self.pid is not None:
            found = [self.pid] if (proc_root / str(self.pid)).is_dir() else []
            what = f"pid {self.pid}"
        elif self.match is not None:
            found = find_pids(self.match, None, proc_root)
            what = f"no process matches {self.match!r}"
        elif ctx.service is not None:
            main = ctx.service.handle.pid()
            found = [] if main is None else [main]
            what = f"{ctx.entity} has no running process"
        else:
            raise PreviewFailed(f"{ctx.entity}: give pid or match, or act on a service")
        if not found:
            raise PreviewFailed(what if self.pid is None else f"{what} does not exist")
        return found


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
    blast: ClassVar[Blast]

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
