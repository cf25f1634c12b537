"""``service.restart``: stop the service the careful way, start it, verify its probe."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.durations import Duration
from setpoint.execute.base import ActionContext, Blast, Risk, Verification


class ServiceRestart:
    """Restart a configured service (supervised command, found process, or systemd unit)."""

    class Config(BaseModel):
        """Parameters of a restart."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        verify_timeout: Duration | None = Field(
            None, gt=0, description="default: the service's verify_timeout"
        )
        settle: Duration = Field(
            1.0, ge=0, description="without a probe: how long the process must stay up"
        )

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    async def preview(self, ctx: ActionContext) -> str:
        """Name the process that would be stopped and how the service would start."""
        watch = ctx.require_service()
        handle, cfg = watch.handle, watch.config
        pid = handle.pid()
        stop = (
            f"stop pid {pid} (SIGCONT, SIGTERM, {cfg.stop_timeout:g}s grace, SIGKILL)"
            if pid is not None
            else "nothing to stop"
        )
        if cfg.systemd:
            start = f"systemctl stop/start {cfg.systemd}"
        elif cfg.command:
            start = "start " + " ".join(cfg.command)
        else:
            start = "run " + " ".join(cfg.restart or [])
        return f"restart {handle.name}: {stop}; {start}"

    async def apply(self, ctx: ActionContext) -> str:
        """Stop, then start, inside the service's maintenance window."""
        handle = ctx.require_service().handle
        old = handle.pid()
        with handle.maintenance.window():
            await handle.stop()
            await handle.start()
        return f"restarted {handle.name}: pid {old} -> {handle.pid()}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The service must pass its probe (or stay up, without one) within the timeout."""
        return await ctx.verify_service(self.config.verify_timeout, self.config.settle)
