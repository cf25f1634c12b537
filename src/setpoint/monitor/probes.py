"""Probes that ask a service whether it works: HTTP, TCP and command.

A failing service is an answer, not an error: every probe returns a
:class:`~setpoint.monitor.base.ProbeResult` with ``ok=False`` and a short detail
("timed out after 1.0s", "connection refused", "HTTP 500", "exit 1: ...") and
never raises for it. Latency is measured on the monotonic clock, in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import h11

from setpoint.config.models import ProbeConfig
from setpoint.monitor.base import Probe, ProbeResult

_OUTPUT_TAIL = 200
"""How many trailing characters of a failing command's output are kept as detail."""


def _describe(exc: BaseException) -> str:
    """Give a short reason for a failure, taken from the innermost OS error.

    >>> _describe(ConnectionRefusedError(111, "Connection refused"))
    'connection refused'
    >>> _describe(ValueError("bad"))
    'bad'
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno).lower()
        seen = seen.__cause__ or seen.__context__
    return (str(exc) or type(exc).__name__)[:_OUTPUT_TAIL]


def _timed_out(timeout: float) -> str:
    return f"timed out after {timeout}s"


class HttpProbe:
    """Passes when a GET of ``url`` answers 2xx or 3xx (redirects are not followed).

    Each check opens one connection, sends one request with ``Connection: close``
    and reads only the status line and headers, through h11 on asyncio streams.
    That costs about a tenth of the CPU of a general-purpose client, which matters
    for a probe that runs every second. HTTPS verifies the certificate.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = float(timeout)
        parts = urlsplit(url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._tls else 80)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._authority = parts.netloc.rpartition("@")[2]

    async def check(self) -> ProbeResult:
        """GET the URL once, without reading the body."""
        start = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                status = await self._status()
        except TimeoutError:
            return ProbeResult(False, time.monotonic() - start, _timed_out(self.timeout))
        except (OSError, h11.ProtocolError, ConnectionError) as exc:
            return ProbeResult(False, time.monotonic() - start, _describe(exc))
        latency = time.monotonic() - start
        if 200 <= status < 400:
            return ProbeResult(True, latency)
        return ProbeResult(False, latency, f"HTTP {status}")

    async def _status(self) -> int:
        reader, writer = await asyncio.open_connection(
            self._host, self._port, ssl=True if self._tls else None
        )
        try:
            conn = h11.Connection(h11.CLIENT)
            request = h11.Request(
                method="GET",
                target=self._target,
                headers=[
                    ("Host", self._authority),
                    ("User-Agent", "setpoint-probe"),
                    ("Connection", "close"),
                ],
            )
            writer.write(conn.send(request) + conn.send(h11.EndOfMessage()))
            await writer.drain()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(4096))
                elif isinstance(event, h11.Response):
                    return int(event.status_code)
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("connection closed before a response")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def aclose(self) -> None:
        """Nothing to release: every check closes its own connection."""


class TcpProbe:
    """Passes when ``host:port`` accepts a TCP connection within the timeout."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = float(timeout)

    async def check(self) -> ProbeResult:
        """Connect once and close the connection at once."""
        start = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                _, writer = await asyncio.open_connection(self.host, self.port)
                latency = time.monotonic() - start
                writer.close()
                await writer.wait_closed()
        except TimeoutError:
            return ProbeResult(False, time.monotonic() - start, _timed_out(self.timeout))
        except OSError as exc:
            return ProbeResult(False, time.monotonic() - start, _describe(exc))
        return ProbeResult(True, latency)


class CommandProbe:
    """Passes when ``argv`` exits 0 within the timeout.

    The command runs in its own session; on timeout the whole process group is
    killed and the child reaped. A failure's detail ends with the last 200
    characters of its combined stdout and stderr.
    """

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.argv = tuple(argv)
        self.timeout = float(timeout)

    async def check(self) -> ProbeResult:
        """Run the command once."""
        start = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return ProbeResult(False, time.monotonic() - start, f"cannot run: {_describe(exc)}")
        try:
            async with asyncio.timeout(self.timeout):
                output, _ = await proc.communicate()
        except TimeoutError:
            return ProbeResult(False, time.monotonic() - start, _timed_out(self.timeout))
        finally:  # timed out, or the probe itself was cancelled: leave no child behind
            if proc.returncode is None:
                await _kill(proc)
        latency = time.monotonic() - start
        code = proc.returncode
        if code == 0:
            return ProbeResult(True, latency)
        tail = output.decode(errors="replace").strip()[-_OUTPUT_TAIL:]
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        return ProbeResult(False, latency, f"{how}: {tail}" if tail else how)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the command's process group, then reap the command."""
    with contextlib.suppress(ProcessLookupError):  # the group is gone: only reaping is left
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.communicate()


def probe_from_config(cfg: ProbeConfig) -> Probe:
    """Build the probe a service's ``probe:`` section describes.

    >>> probe_from_config(ProbeConfig(tcp="[::1]:5432", timeout="2s")).host
    '::1'
    """
    if cfg.http is not None:
        return HttpProbe(cfg.http, cfg.timeout)
    if cfg.tcp is not None:
        host, _, port = cfg.tcp.rpartition(":")
        return TcpProbe(host.strip("[]"), int(port), cfg.timeout)
    if cfg.command is not None:
        return CommandProbe(cfg.command, cfg.timeout)
    raise ValueError("a probe needs one of http, tcp or command")
