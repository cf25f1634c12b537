"""nginx actuators: ``nginx.upstream_weight`` and ``nginx.upstream_down`` (circuit breaker).

Each rewrites one managed upstream file (:mod:`setpoint.execute.nginx_upstream`)
atomically, runs ``nginx -t``, and only then sends SIGHUP to the master. If the test
fails, or no new workers start within ``reload_timeout``, the previous file is put back
(and reloaded) and the action fails. Rollback restores the previous file and reloads.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any, ClassVar

import psutil
from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.integrations import NginxInstance
from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, RollbackFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification
from setpoint.execute.nginx_upstream import (
    Upstream,
    parse_upstream,
    render_upstream,
    write_atomically,
)


def _instance(ctx: ActionContext, name: str, error: type[ActuationError]) -> NginxInstance:
    settings = ctx.integrations.nginx.get(name)
    if settings is None:
        known = ", ".join(sorted(ctx.integrations.nginx)) or "none"
        raise error(f"no integrations.nginx instance {name!r} (known: {known})")
    return settings


async def config_test(nginx: NginxInstance) -> tuple[bool, str]:
    """Run ``nginx -t`` on the instance's configuration; (passed, nginx's output)."""
    argv = [nginx.binary, "-t", "-q", "-c", str(nginx.conf)]
    if nginx.prefix is not None:
        argv += ["-p", str(nginx.prefix)]
    if nginx.error_log is not None:
        argv += ["-e", str(nginx.error_log)]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as exc:
        return False, f"cannot run {nginx.binary}: {exc.strerror or exc}"
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), nginx.reload_timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False, f"nginx -t took longer than {nginx.reload_timeout:g}s"
    return proc.returncode == 0, out.decode(errors="replace").strip()


def _accepting_workers(master: int) -> set[int]:
    """The master's workers that still accept connections.

    A worker told to quit renames itself ``nginx: worker process is shutting down``
    and closes its listening sockets; it may live on while it finishes requests.
    """
    try:
        children = psutil.Process(master).children()
    except psutil.Error:
        return set()
    found = set()
    for child in children:
        try:
            title = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "worker process" in title and "shutting down" not in title:
            found.add(child.pid)
    return found


async def reload(nginx: NginxInstance, error: type[ActuationError]) -> int:
    """SIGHUP the master; wait until new workers, and only they, accept; return its pid."""
    try:
        master = int(nginx.pid_file.read_text().strip())
    except (OSError, ValueError) as exc:
        raise error(f"cannot read nginx master pid from {nginx.pid_file}: {exc}") from exc
    before = _accepting_workers(master)
    try:
        os.kill(master, signal.SIGHUP)
    except OSError as exc:
        raise error(f"cannot signal nginx master {master}: {exc.strerror or exc}") from exc
    deadline = time.monotonic() + nginx.reload_timeout
    while True:
        now = _accepting_workers(master)
        if now and not now & before:
            return master
        if time.monotonic() >= deadline:
            raise error(
                f"nginx master {master} did not switch to new workers within "
                f"{nginx.reload_timeout:g}s of SIGHUP"
            )
        await asyncio.sleep(0.02)


class UpstreamParams(BaseModel):
    """Which server of which upstream, on which nginx."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance: str = Field(min_length=1, description="integrations.nginx name")
    upstream: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="managed file NAME.conf")
    server: str = Field(min_length=1, description="address as written, e.g. 10.0.0.5:8080")


class _UpstreamEdit:
    """Change one server line of a managed upstream file, test, reload; revert on failure.

    ``change`` holds the keyword arguments of :meth:`Upstream.with_server`.
    """

    Config: ClassVar[type[UpstreamParams]]
    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: UpstreamParams, change: dict[str, Any]) -> None:
        self.config = config
        self._change = change
        self._previous: str | None = None

    def _edit(self, block: Upstream) -> Upstream:
        return block.with_server(self.config.server, **self._change)

    def _state(self, block: Upstream) -> str:
        s = self.config.server
        return f"{s} weight={block.weight(s)}{' down' if block.is_down(s) else ''}"

    def _load(
        self, nginx: NginxInstance, error: type[ActuationError]
    ) -> tuple[Path, str, Upstream]:
        path = nginx.upstreams_dir / f"{self.config.upstream}.conf"
        try:
            text = path.read_text(encoding="utf-8")
            block = parse_upstream(text)
            edited = self._edit(block)
        except (OSError, ValueError, KeyError) as exc:
            raise error(f"{path}: {exc}") from exc
        return path, text, edited

    async def preview(self, ctx: ActionContext) -> str:
        """The server line now and after."""
        nginx = _instance(ctx, self.config.instance, PreviewFailed)
        path, text, edited = self._load(nginx, PreviewFailed)
        before = self._state(parse_upstream(text))
        return f"{path}: {before} -> {self._state(edited)}; nginx -t, then SIGHUP the master"

    async def apply(self, ctx: ActionContext) -> str:
        """Write, test and reload; on any failure put the previous file back."""
        nginx = _instance(ctx, self.config.instance, ApplyFailed)
        path, text, edited = self._load(nginx, ApplyFailed)
        write_atomically(path, render_upstream(edited))
        ok, output = await config_test(nginx)
        if not ok:
            write_atomically(path, text)
            raise ApplyFailed(f"nginx -t failed; {path} restored: {output}")
        try:
            master = await reload(nginx, ApplyFailed)
        except ApplyFailed as exc:
            write_atomically(path, text)
            raise ApplyFailed(f"{exc}; {path} restored") from exc
        self._previous = text
        change = f"{self._state(parse_upstream(text))} -> {self._state(edited)}"
        return f"{path}: {change}; reloaded nginx master {master}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The managed file holds the wanted server line (nginx reloaded it in apply)."""
        nginx = _instance(ctx, self.config.instance, VerifyFailed)
        path, text, wanted = self._load(nginx, VerifyFailed)
        now = parse_upstream(text)
        s = self.config.server
        measured = {"weight": now.weight(s), "down": now.is_down(s)}
        return Verification(
            now.servers[s] == wanted.servers[s], f"{path}: {self._state(now)}", measured
        )

    async def rollback(self, ctx: ActionContext) -> str:
        """Restore the file as it was before :meth:`apply` and reload."""
        nginx = _instance(ctx, self.config.instance, RollbackFailed)
        if self._previous is None:
            raise RollbackFailed(
                f"nginx {self.config.instance}: nothing to roll back (not applied)"
            )
        path = nginx.upstreams_dir / f"{self.config.upstream}.conf"
        write_atomically(path, self._previous)
        ok, output = await config_test(nginx)
        if not ok:
            raise RollbackFailed(f"nginx -t failed after restoring {path}: {output}")
        master = await reload(nginx, RollbackFailed)
        return f"{path} restored; reloaded {master}"


class UpstreamWeight(_UpstreamEdit):
    """Set one upstream server's ``weight`` (shift traffic towards or away from it).

    >>> UpstreamWeight.Config(instance="edge", upstream="app", server="10.0.0.5:80", weight=3)
    WeightParams(instance='edge', upstream='app', server='10.0.0.5:80', weight=3)
    """

    class WeightParams(UpstreamParams):
        """The server's new weight."""

        weight: int = Field(ge=1, le=1000)

    Config = WeightParams

    def __init__(self, config: WeightParams) -> None:
        super().__init__(config, {"weight": config.weight})


class UpstreamDown(_UpstreamEdit):
    """Mark one upstream server ``down`` (open the circuit), or back up with ``down: false``."""

    class DownParams(UpstreamParams):
        """Open (true) or close (false) the circuit."""

        down: bool = True

    Config = DownParams

    def __init__(self, config: DownParams) -> None:
        super().__init__(config, {"down": config.down})
