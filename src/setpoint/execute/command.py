"""``command.run``: a user-defined argument vector, run with a timeout, output recorded.

The argv comes from the configuration as a list and is executed directly (no shell),
in its own session so a timeout ends the whole process group. Only the last ``tail``
bytes of its combined output are kept, however much it prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.durations import Duration
from setpoint.errors import ApplyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification


async def read_tail(stream: asyncio.StreamReader, keep: int) -> bytes:
    """Read ``stream`` to its end, keeping only the last ``keep`` bytes."""
    tail = b""
    while chunk := await stream.read(65536):
        tail = (tail + chunk)[-keep:]
    return tail


class CommandRun:
    """Run ``argv``; it succeeds when it exits with one of ``ok_codes`` within ``timeout``."""

    class Config(BaseModel):
        """The command and its limits."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        argv: list[str] = Field(min_length=1, description="program and arguments; no shell")
        timeout: Duration = Field(30.0, gt=0)
        cwd: Path | None = None
        env: dict[str, str] = Field(default_factory=dict, description="added to the environment")
        ok_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)
        tail: int = Field(2000, ge=0, le=1_000_000, description="output bytes recorded")

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.EXTERNAL

    def __init__(self, config: Config) -> None:
        self.config = config
        self.returncode: int | None = None
        self.output = ""
        self.took = 0.0

    async def preview(self, ctx: ActionContext) -> str:
        """The exact command line (quoted for reading; it is not run through a shell)."""
        where = f" in {self.config.cwd}" if self.config.cwd else ""
        return f"run {shlex.join(self.config.argv)}{where} (timeout {self.config.timeout:g}s)"

    async def _run(self) -> tuple[int, bytes]:
        cfg = self.config
        try:
            proc = await asyncio.create_subprocess_exec(
                *cfg.argv,
                cwd=cfg.cwd,
                env={**os.environ, **cfg.env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ApplyFailed(f"cannot run {cfg.argv[0]}: {exc.strerror}") from exc
        assert proc.stdout is not None
        reader = asyncio.ensure_future(read_tail(proc.stdout, max(cfg.tail, 1)))
        try:
            await asyncio.wait_for(proc.wait(), cfg.timeout)
        except TimeoutError as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            tail = await reader
            self.output = tail.decode(errors="replace")[-cfg.tail :] if cfg.tail else ""
            raise ApplyFailed(
                f"{shlex.join(cfg.argv)} did not finish in {cfg.timeout:g}s; killed: "
                f"{self.output.strip()}"
            ) from exc
        return proc.returncode or 0, await reader

    async def apply(self, ctx: ActionContext) -> str:
        """Run the command; a code outside ``ok_codes`` raises ApplyFailed with the output."""
        started = time.monotonic()
        rc, tail = await self._run()
        self.took = time.monotonic() - started
        self.returncode = rc
        self.output = tail.decode(errors="replace")[-self.config.tail :] if self.config.tail else ""
        summary = f"{self.config.argv[0]} exited {rc} in {self.took:.2f}s"
        if rc not in self.config.ok_codes:
            raise ApplyFailed(f"{summary}: {self.output.strip()}")
        return f"{summary}: {self.output.strip()}" if self.output.strip() else summary

    async def verify(self, ctx: ActionContext) -> Verification:
        """The exit code was one of ``ok_codes``; the output tail is recorded."""
        ok = self.returncode in self.config.ok_codes
        return Verification(
            ok,
            f"exit {self.returncode}",
            {"returncode": self.returncode, "output_tail": self.output, "took_s": self.took},
        )
