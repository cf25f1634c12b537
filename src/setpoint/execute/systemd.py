"""systemd actuators: ``systemd.start|stop|restart|reload`` and ``systemd.set_property``.

Everything goes through ``systemctl`` with an argument vector; unit names are
validated (no leading ``-``, only the characters systemd allows), so nothing from an
event can become an option or a shell word. ``set-property --runtime`` changes last
until the next boot; the values before are read with ``systemctl show -p`` and put
back by rollback.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from setpoint.config.durations import Duration
from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification

_UNIT = re.compile(r"^[A-Za-z0-9:_.\\@][A-Za-z0-9:_.\\@-]*$")


def check_unit(unit: str) -> str:
    """A unit name as systemd allows it, never an option.

    >>> check_unit("web.service")
    'web.service'
    >>> check_unit("--now")
    Traceback (most recent call last):
    ...
    ValueError: '--now' is not a unit name
    """
    if not _UNIT.match(unit) or len(unit) > 256:
        raise ValueError(f"{unit!r} is not a unit name")
    return unit


class UnitParams(BaseModel):
    """Which unit (default: the service's ``systemd`` unit) and how to reach systemctl."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str | None = None
    systemctl: str = Field("systemctl", description="path of the systemctl binary")
    timeout: Duration = Field(30.0, gt=0, description="for each systemctl call and verify")

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str | None) -> str | None:
        return None if value is None else check_unit(value)


class Systemctl:
    """Shared parts: find the unit, run systemctl, read properties."""

    config: UnitParams

    def _unit(self, ctx: ActionContext, error: type[ActuationError] = PreviewFailed) -> str:
        unit = self.config.unit
        if unit is None and ctx.service is not None:
            unit = ctx.service.config.systemd
        if unit is None:
            raise error(f"{ctx.entity} is not a systemd service and no unit was given")
        try:
            return check_unit(unit)
        except ValueError as exc:
            raise error(str(exc)) from exc

    async def _run(self, *args: str, error: type[ActuationError] = ApplyFailed) -> str:
        argv = [self.config.systemctl, *args]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise error(f"cannot run {self.config.systemctl}: {exc.strerror}") from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.config.timeout)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise error(f"{' '.join(argv)} did not finish in {self.config.timeout:g}s") from exc
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip()[-200:]
            raise error(f"{' '.join(argv)} exited {proc.returncode}: {detail}")
        return out.decode(errors="replace")

    async def show(
        self, unit: str, names: list[str], error: type[ActuationError] = PreviewFailed
    ) -> dict[str, str]:
        """``systemctl show -p A -p B UNIT`` as a mapping."""
        args = [arg for name in names for arg in ("-p", name)]
        text = await self._run("show", *args, unit, error=error)
        pairs = (line.partition("=") for line in text.splitlines() if "=" in line)
        return {key: value for key, _, value in pairs}


Verb = Literal["start", "stop", "restart", "reload"]
_STATE = ["ActiveState", "SubState", "MainPID"]


class _UnitVerb(Systemctl):
    """``systemctl VERB UNIT``, verified by the unit's ActiveState (and MainPID)."""

    class Config(UnitParams):
        """The unit to act on."""

    verb: ClassVar[Verb]
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: UnitParams | None = None) -> None:
        self.config = config or self.Config()
        self._before: dict[str, str] = {}

    async def preview(self, ctx: ActionContext) -> str:
        """The command, and the unit's state now."""
        unit = self._unit(ctx)
        now = await self.show(unit, _STATE)
        state = " ".join(f"{k}={now.get(k, '?')}" for k in _STATE)
        return f"systemctl {self.verb} {unit} (now {state})"

    async def apply(self, ctx: ActionContext) -> str:
        """Remember the state, then run the verb."""
        unit = self._unit(ctx, ApplyFailed)
        self._before = await self.show(unit, _STATE, ApplyFailed)
        await self._run(self.verb, unit)
        return f"systemctl {self.verb} {unit}"

    def _expected(self, now: dict[str, str]) -> bool:
        old_pid = self._before.get("MainPID", "0")
        if self.verb == "stop":
            return now.get("ActiveState") in ("inactive", "failed")
        if now.get("ActiveState") != "active":
            return False
        if self.verb == "restart":
            return old_pid == "0" or now.get("MainPID") != old_pid
        if self.verb == "reload":
            return now.get("MainPID") == old_pid
        return True

    async def verify(self, ctx: ActionContext) -> Verification:
        """Poll (bounded by ``timeout``) until the unit is in the state the verb leads to."""
        unit = self._unit(ctx, ApplyFailed)
        deadline = time.monotonic() + self.config.timeout
        while True:
            try:
                now = await self.show(unit, _STATE, ApplyFailed)
            except ApplyFailed as exc:
                return Verification(False, str(exc))
            if self._expected(now) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        state = " ".join(f"{k}={now.get(k, '?')}" for k in _STATE)
        return Verification(self._expected(now), f"{unit}: {state}", dict(now))


class SystemdStart(_UnitVerb):
    """``systemctl start``; rollback stops the unit again if it was not active before."""

    verb: ClassVar[Verb] = "start"
    risk: ClassVar[Risk] = Risk.SAFE

    async def rollback(self, ctx: ActionContext) -> str:
        """Stop the unit if this action started it."""
        unit = self._unit(ctx, RollbackFailed)
        if self._before.get("ActiveState") == "active":
            return f"{unit} was already active; left running"
        await self._run("stop", unit, error=RollbackFailed)
        return f"systemctl stop {unit}"


class SystemdStop(_UnitVerb):
    """``systemctl stop``; rollback starts the unit again if it was active before."""

    verb: ClassVar[Verb] = "stop"
    risk: ClassVar[Risk] = Risk.DISRUPTIVE

    async def rollback(self, ctx: ActionContext) -> str:
        """Start the unit if this action stopped it."""
        unit = self._unit(ctx, RollbackFailed)
        if self._before.get("ActiveState") != "active":
            return f"{unit} was not active before; left stopped"
        await self._run("start", unit, error=RollbackFailed)
        return f"systemctl start {unit}"


class SystemdRestart(_UnitVerb):
    """``systemctl restart``: verified by a new MainPID on an active unit."""

    verb: ClassVar[Verb] = "restart"
    risk: ClassVar[Risk] = Risk.DISRUPTIVE


class SystemdReload(_UnitVerb):
    """``systemctl reload``: verified by an active unit with the same MainPID."""

    verb: ClassVar[Verb] = "reload"
    risk: ClassVar[Risk] = Risk.SAFE


_BYTES = re.compile(r"^(\d+)([KMGT]?)$")
_PROPS = {"cpu_weight": "CPUWeight", "memory_high": "MemoryHigh", "memory_max": "MemoryMax"}


def to_bytes(value: str) -> str:
    """A memory value as ``show`` prints it: in bytes, ``K`` being 1024.

    >>> to_bytes("512M"), to_bytes("infinity")
    ('536870912', 'infinity')
    """
    match = _BYTES.match(value)
    if match is None:
        return value
    return str(int(match.group(1)) * 1024 ** " KMGT".index(match.group(2) or " "))


class SystemdSetProperty(Systemctl):
    """``systemctl set-property --runtime UNIT CPUWeight= MemoryHigh= MemoryMax=``."""

    class Config(UnitParams):
        """The properties to set; give at least one."""

        cpu_weight: int | None = Field(None, ge=1, le=10000)
        memory_high: str | None = Field(None, description="bytes, e.g. 512M, or infinity")
        memory_max: str | None = Field(None, description="bytes, e.g. 1G, or infinity")

        @field_validator("memory_high", "memory_max")
        @classmethod
        def _memory(cls, value: str | None) -> str | None:
            if value is not None and value != "infinity" and not _BYTES.match(value):
                raise ValueError("must be bytes with an optional K, M, G or T, or infinity")
            return value

        @model_validator(mode="after")
        def _some(self) -> SystemdSetProperty.Config:
            if all(getattr(self, k) is None for k in _PROPS):
                raise ValueError("give cpu_weight, memory_high or memory_max")
            return self

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.SERVICE
    config: Config

    def __init__(self, config: Config) -> None:
        self.config = config
        self._before: dict[str, str] = {}
        self._unit_name: str | None = None

    def _wanted(self) -> dict[str, str]:
        values = {prop: getattr(self.config, key) for key, prop in _PROPS.items()}
        return {prop: str(value) for prop, value in values.items() if value is not None}

    async def preview(self, ctx: ActionContext) -> str:
        """Each property's value now and the one it would get."""
        unit = self._unit(ctx)
        now = await self.show(unit, list(self._wanted()))
        changes = ", ".join(f"{k} {now.get(k, '?')} -> {v}" for k, v in self._wanted().items())
        return f"systemctl set-property --runtime {unit}: {changes}"

    async def apply(self, ctx: ActionContext) -> str:
        """Read the current values (for rollback), then set the new ones."""
        unit = self._unit(ctx, ApplyFailed)
        wanted = self._wanted()
        self._before = await self.show(unit, list(wanted), ApplyFailed)
        self._unit_name = unit
        await self._run("set-property", "--runtime", unit, *(f"{k}={v}" for k, v in wanted.items()))
        return f"set {unit} " + " ".join(f"{k}={v}" for k, v in wanted.items())

    async def verify(self, ctx: ActionContext) -> Verification:
        """``show -p`` reads back the values that were set."""
        unit = self._unit(ctx, ApplyFailed)
        wanted = {k: to_bytes(v) for k, v in self._wanted().items()}
        try:
            now = await self.show(unit, list(wanted), ApplyFailed)
        except ApplyFailed as exc:
            return Verification(False, str(exc))
        wrong = {k: now.get(k) for k, v in wanted.items() if now.get(k) != v}
        detail = f"{unit}: {now}" if not wrong else f"{unit}: not in effect: {wrong}"
        return Verification(not wrong, detail, dict(now))

    async def rollback(self, ctx: ActionContext) -> str:
        """Set each property back to the value ``show`` gave before (unset stays unset)."""
        if self._unit_name is None:
            return "nothing to undo"
        old = [f"{k}={'' if v == '[not set]' else v}" for k, v in self._before.items()]
        await self._run("set-property", "--runtime", self._unit_name, *old, error=RollbackFailed)
        return f"restored {self._unit_name} " + " ".join(old)
