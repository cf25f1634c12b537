"""``service.signal``: send one named signal to a service's main process, verify its probe.

The gentle remediation: SIGHUP asks many daemons to reload, SIGUSR1/2 to reopen logs
or dump state. Whether it healed is judged the same way as a restart: the service must
pass its probe within ``verify_timeout``. A stopped (SIGSTOPped) process stays stopped
whatever it is sent besides SIGCONT, so a SIGHUP fails verification there and the
learner sees that it does not work for that incident.
"""

from __future__ import annotations

import os
import signal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from setpoint.config.durations import Duration
from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification

SIGNALS = ("SIGHUP", "SIGUSR1", "SIGUSR2", "SIGTERM", "SIGINT", "SIGQUIT", "SIGCONT", "SIGWINCH")
"""The signals this actuator sends. SIGKILL and SIGSTOP are left out: neither can be
handled, so neither is a remediation (a restart is the careful way to kill)."""


def signal_name(value: str) -> str:
    """The canonical name of an allowed signal, from ``SIGHUP``, ``HUP`` or ``hup``.

    >>> signal_name("hup"), signal_name("SIGUSR1")
    ('SIGHUP', 'SIGUSR1')
    >>> signal_name("SIGKILL")
    Traceback (most recent call last):
    ValueError: 'SIGKILL' is not one of SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGQUIT, SIGCONT, SIGWINCH
    """  # noqa: E501
    name = value.strip().upper()
    name = name if name.startswith("SIG") else f"SIG{name}"
    if name not in SIGNALS:
        raise ValueError(f"{value!r} is not one of {', '.join(SIGNALS)}")
    return name


class ServiceSignal:
    """Send a signal to a configured service's main process.

    >>> ServiceSignal(ServiceSignal.Config(signal="hup")).config.signal
    'SIGHUP'
    """

    class Config(BaseModel):
        """Parameters of a signal: which one, and how long the service has to recover."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        signal: str = Field(description="by name: " + ", ".join(SIGNALS))
        verify_timeout: Duration | None = Field(
            None, gt=0, description="default: the service's verify_timeout"
        )
        settle: Duration = Field(
            1.0, ge=0, description="without a probe: how long the process must stay up"
        )

        @field_validator("signal")
        @classmethod
        def _known(cls, value: str) -> str:
            return signal_name(value)

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.PROCESS

    def __init__(self, config: Config) -> None:
        self.config = config

    def _pid(self, ctx: ActionContext) -> int:
        watch = ctx.require_service()
        pid = watch.handle.pid()
        if pid is None:
            raise PreviewFailed(f"{watch.handle.name} has no running process to signal")
        return pid

    async def preview(self, ctx: ActionContext) -> str:
        """Name the process and the signal it would get."""
        name = ctx.require_service().handle.name
        return f"send {self.config.signal} to {name} (pid {self._pid(ctx)})"

    async def apply(self, ctx: ActionContext) -> str:
        """Send the signal to the main process (not its group: reload goes to the master)."""
        try:
            pid = self._pid(ctx)
            os.kill(pid, signal.Signals[self.config.signal])
        except (PreviewFailed, ProcessLookupError, PermissionError) as exc:
            raise ApplyFailed(f"cannot send {self.config.signal}: {exc}") from exc
        return f"sent {self.config.signal} to {ctx.require_service().handle.name} (pid {pid})"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The service must pass its probe (or stay up, without one) within the timeout."""
        return await ctx.verify_service(self.config.verify_timeout, self.config.settle)
