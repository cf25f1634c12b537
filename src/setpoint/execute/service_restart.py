"""``service.restart``: stop the service the careful way, start it, verify its probe."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.durations import Duration
from setpoint.errors import PreviewFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification
from setpoint.monitor.service_watch import ServiceWatch


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

    @staticmethod
    def _service(ctx: ActionContext) -> ServiceWatch:
        if ctx.service is None:
            raise PreviewFailed(f"{ctx.entity} is not a configured service")
        return ctx.service

    async def preview(self, ctx: ActionContext) -> str:
        """Name the process that would be stopped and how the service would start."""
        watch = self._service(ctx)
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
        handle = self._service(ctx).handle
        old = handle.pid()
        with handle.maintenance.window():
            await handle.stop()
            await handle.start()
        return f"restarted {handle.name}: pid {old} -> {handle.pid()}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The service must pass its probe (or stay up, without one) within the timeout."""
        watch = self._service(ctx)
        timeout = self.config.verify_timeout or watch.config.verify_timeout
        result = await watch.wait_healthy(timeout, self.config.settle)
        return Verification(
            result.ok,
            result.detail,
            {"probe_ok": result.ok, "probe_latency_s": round(result.latency, 4)},
        )
