"""Docker actuators through the Engine API (docker SDK): ``docker.restart`` and ``docker.update``.

The SDK is blocking, so every call runs on a worker thread; the endpoint and request
timeout come from ``integrations.docker``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import docker
from docker.errors import DockerException
from pydantic import BaseModel, ByteSize, ConfigDict, Field, model_validator

from setpoint.config.durations import Duration
from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, RollbackFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification

T = TypeVar("T")
CPU_PERIOD = 100_000
"""CFS period (µs) used when a CPU limit is given as a number of CPUs."""
_UPDATE_ARGS = {
    "CpuPeriod": "cpu_period",
    "CpuQuota": "cpu_quota",
    "CpuShares": "cpu_shares",
    "Memory": "mem_limit",
    "MemorySwap": "memswap_limit",
}
"""HostConfig fields this module changes, by the SDK's update_container argument."""


async def engine(ctx: ActionContext, error: type[ActuationError], call: Callable[[Any], T]) -> T:
    """Run ``call(client)`` on a thread against the configured engine; errors become ``error``."""
    settings = ctx.integrations.docker

    def run() -> T:
        client = docker.DockerClient(base_url=settings.url, timeout=int(settings.timeout))
        try:
            return call(client)
        finally:
            client.close()

    try:
        return await asyncio.to_thread(run)
    except DockerException as exc:
        raise error(f"docker {settings.url}: {exc}") from exc


def inspect(container: str) -> Callable[[Any], dict[str, Any]]:
    """A call that returns the container's inspect document (``GET /containers/{id}/json``)."""

    def call(client: Any) -> dict[str, Any]:
        attrs: dict[str, Any] = client.api.inspect_container(container)
        return attrs

    return call


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    container: str = Field(min_length=1, description="name or id")


class DockerRestart:
    """Restart a container (``POST /containers/{id}/restart``); verify it started again."""

    class Config(_Params):
        """Which container, and how long the engine waits before SIGKILL."""

        stop_timeout: int = Field(10, ge=0, description="seconds between SIGTERM and SIGKILL")
        verify_timeout: Duration = Field(30.0, gt=0)

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config) -> None:
        self.config = config
        self._started_before: str | None = None

    async def preview(self, ctx: ActionContext) -> str:
        """The container, its image and since when it runs."""
        c = self.config
        info = await engine(ctx, PreviewFailed, inspect(c.container))
        state = info["State"]
        return (
            f"restart container {info['Name'].lstrip('/')} ({info['Id'][:12]}, "
            f"{info['Config']['Image']}, {state['Status']} since {state['StartedAt']}) "
            f"with {c.stop_timeout}s stop grace"
        )

    async def apply(self, ctx: ActionContext) -> str:
        """Restart it, remembering when it had started."""
        c = self.config

        def restart(client: Any) -> str:
            info = inspect(c.container)(client)
            client.api.restart(c.container, timeout=c.stop_timeout)
            return str(info["State"]["StartedAt"])

        self._started_before = await engine(ctx, ApplyFailed, restart)
        return f"restarted container {c.container} (had started {self._started_before})"

    async def verify(self, ctx: ActionContext) -> Verification:
        """It runs again, started after the restart (and is healthy, if it has a check)."""
        c = self.config
        deadline = time.monotonic() + c.verify_timeout
        while True:
            state = (await engine(ctx, VerifyFailed, inspect(c.container)))["State"]
            health = (state.get("Health") or {}).get("Status", "none")
            ok = (
                state["Running"]
                and state["StartedAt"] != self._started_before
                and health in ("healthy", "none")
            )
            if ok or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)
        detail = f"{state['Status']} since {state['StartedAt']}, health {health}"
        return Verification(bool(ok), detail, {"started_at": state["StartedAt"], "health": health})


class DockerUpdate:
    """Change a running container's CPU and memory limits (``POST /containers/{id}/update``).

    Rollback restores the values read from inspect before. The engine cannot lift a
    memory limit by update (moby/moby#22516), so rolling back a limit set on an
    unlimited container fails with that reason; an unlimited CPU quota is restored as
    ``-1`` (no CFS quota).

    >>> DockerUpdate.Config(container="web", cpus=0.5).body({"HostConfig": {}})
    {'CpuPeriod': 100000, 'CpuQuota': 50000}
    """

    class Config(_Params):
        """The new limits; give at least one."""

        cpus: float | None = Field(None, gt=0, description="CPUs, as a CFS quota")
        cpu_shares: int | None = Field(None, ge=2)
        memory: ByteSize | None = Field(None, ge=6 * 1024 * 1024, description="e.g. 512MiB")
        memory_swap: int | None = Field(None, ge=-1, description="bytes; -1: unlimited swap")

        @model_validator(mode="after")
        def _something(self) -> DockerUpdate.Config:
            if self.cpus is None and self.cpu_shares is None and self.memory is None:
                raise ValueError("give cpus, cpu_shares or memory")
            return self

        def body(self, info: dict[str, Any]) -> dict[str, int]:
            """The update's HostConfig fields, given the container's inspect document."""
            out: dict[str, int] = {}
            if self.cpus is not None:
                out |= {"CpuPeriod": CPU_PERIOD, "CpuQuota": round(self.cpus * CPU_PERIOD)}
            if self.cpu_shares is not None:
                out["CpuShares"] = self.cpu_shares
            if self.memory is not None:
                out["Memory"] = int(self.memory)
                out["MemorySwap"] = self._swap(info["HostConfig"], int(self.memory))
            return out

        def _swap(self, host: dict[str, Any], memory: int) -> int:
            """Keep the container's swap allowance; Docker's default is as much again."""
            if self.memory_swap is not None:
                return self.memory_swap
            old_mem, old_swap = host.get("Memory") or 0, host.get("MemorySwap") or 0
            if old_swap == -1:
                return -1
            if old_mem > 0 and old_swap > old_mem:
                return memory + (old_swap - old_mem)
            return 2 * memory

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config) -> None:
        self.config = config
        self._previous: dict[str, int] | None = None
        self._sent: dict[str, int] = {}

    async def preview(self, ctx: ActionContext) -> str:
        """Each limit now and after."""
        info = await engine(ctx, PreviewFailed, inspect(self.config.container))
        host = info["HostConfig"]
        body = self.config.body(info)
        changes = ", ".join(f"{k} {host.get(k)} -> {v}" for k, v in body.items())
        return f"update container {self.config.container}: {changes}"

    async def apply(self, ctx: ActionContext) -> str:
        """Read the limits now, then send the update."""
        c = self.config

        def update(client: Any) -> dict[str, Any]:
            info = inspect(c.container)(client)
            self._sent = c.body(info)
            kwargs = {_UPDATE_ARGS[k]: v for k, v in self._sent.items()}
            client.api.update_container(c.container, **kwargs)
            return info

        info = await engine(ctx, ApplyFailed, update)
        host = info["HostConfig"]
        self._previous = {k: int(host.get(k) or 0) for k in self._sent}
        changes = ", ".join(f"{k} {self._previous[k]} -> {v}" for k, v in self._sent.items())
        return f"updated container {c.container}: {changes}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """Inspect shows the new limits."""
        host = (await engine(ctx, VerifyFailed, inspect(self.config.container)))["HostConfig"]
        now = {k: host.get(k) for k in self._sent}
        return Verification(now == self._sent, f"HostConfig now {now}", dict(now))

    async def rollback(self, ctx: ActionContext) -> str:
        """Send the previous limits back."""
        c, prev = self.config, self._previous
        if prev is None:
            raise RollbackFailed(f"container {c.container}: nothing to roll back (not applied)")
        if prev.get("Memory", 1) == 0:
            raise RollbackFailed(
                f"container {c.container} had no memory limit, and the engine cannot lift "
                "one by update (moby/moby#22516): recreate the container to remove it"
            )
        # 0 reads as "unset" in inspect but means "unchanged" to update: send the
        # engine's meaning of unset instead (no quota, default shares).
        unset = {"CpuQuota": -1, "CpuShares": 1024}
        kwargs = {
            arg: prev[key] or unset.get(key)
            for key, arg in _UPDATE_ARGS.items()
            if key in prev and (prev[key] or key in unset)
        }
        await engine(
            ctx, RollbackFailed, lambda client: client.api.update_container(c.container, **kwargs)
        )
        return f"container {c.container}: restored {prev}"
