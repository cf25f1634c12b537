from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from setpoint.config.models import ProbeConfig
from setpoint.monitor.probes import CommandProbe, HttpProbe, TcpProbe, probe_from_config


class Handler(BaseHTTPRequestHandler):
    """Answers /ok with 200, /moved with 302 and anything else with 500."""

    def do_GET(self) -> None:
        status = {"/ok": 200, "/moved": 302}.get(self.path, 500)
        self.send_response(status)
        self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def http_port() -> Iterator[int]:
    """A real HTTP server on 127.0.0.1, served from a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listening socket that never accepts: connections complete, nothing answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def http_probe() -> AsyncIterator[list[HttpProbe]]:
    """Probes made by a test, closed after it."""
    probes: list[HttpProbe] = []
    yield probes
    for probe in probes:
        await probe.aclose()


def make(probes: list[HttpProbe], url: str, timeout: float = 1.0) -> HttpProbe:
    probes.append(HttpProbe(url, timeout))
    return probes[-1]


async def test_http_2xx_passes_and_the_client_is_reused(
    http_probe: list[HttpProbe], http_port: int
) -> None:
    probe = make(http_probe, f"http://127.0.0.1:{http_port}/ok")
    first = await probe.check()
    second = await probe.check()

    assert first.ok and second.ok
    assert 0 < first.latency < 1.0
    assert first.detail == ""


async def test_http_3xx_passes_without_following(
    http_probe: list[HttpProbe], http_port: int
) -> None:
    result = await make(http_probe, f"http://127.0.0.1:{http_port}/moved").check()
    assert result.ok


async def test_http_500_fails(http_probe: list[HttpProbe], http_port: int) -> None:
    result = await make(http_probe, f"http://127.0.0.1:{http_port}/broken").check()
    assert not result.ok
    assert result.detail == "HTTP 500"


async def test_http_silent_server_times_out(http_probe: list[HttpProbe], silent_port: int) -> None:
    start = time.monotonic()
    result = await make(http_probe, f"http://127.0.0.1:{silent_port}/", timeout=0.3).check()
    elapsed = time.monotonic() - start

    assert not result.ok
    assert result.detail == "timed out after 0.3s"
    assert 0.25 < elapsed < 0.3 + 0.5
    assert result.latency == pytest.approx(elapsed, abs=0.05)


async def test_http_closed_port_fails(http_probe: list[HttpProbe], closed_port: int) -> None:
    result = await make(http_probe, f"http://127.0.0.1:{closed_port}/").check()
    assert not result.ok
    assert result.detail == "connection refused"


async def test_http_aclose_is_safe_before_use_and_twice() -> None:
    probe = HttpProbe("http://127.0.0.1:1/", 1.0)
    await probe.aclose()
    await probe.aclose()


async def test_tcp_open_port_passes(http_port: int) -> None:
    result = await TcpProbe("127.0.0.1", http_port, 1.0).check()
    assert result.ok
    assert 0 < result.latency < 1.0


async def test_tcp_closed_port_fails(closed_port: int) -> None:
    result = await TcpProbe("127.0.0.1", closed_port, 1.0).check()
    assert not result.ok
    assert result.detail == "connection refused"


async def test_command_exit_status_decides() -> None:
    assert (await CommandProbe(["true"], 1.0).check()).ok
    failed = await CommandProbe(["false"], 1.0).check()
    assert not failed.ok
    assert failed.detail == "exit 1"


async def test_command_failure_keeps_the_tail_of_its_output() -> None:
    script = "printf 'x%.0s' $(seq 300); echo; echo 'disk full' >&2; exit 3"
    result = await CommandProbe(["sh", "-c", script], 1.0).check()

    assert not result.ok
    assert result.detail.startswith("exit 3: x")
    assert result.detail.endswith("disk full")
    assert len(result.detail) == len("exit 3: ") + 200


async def test_command_that_cannot_run_fails() -> None:
    result = await CommandProbe(["/nonexistent/setpoint-probe"], 1.0).check()
    assert not result.ok
    assert result.detail == "cannot run: no such file or directory"


def process_gone_or_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


async def test_command_timeout_kills_and_reaps_the_child(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # the shell records its own pid and its background grandchild's, then waits
    script = f"sleep 5 & echo $$ $! > {pids}; wait"
    start = time.monotonic()
    result = await CommandProbe(["sh", "-c", script], 0.2).check()
    elapsed = time.monotonic() - start

    assert not result.ok
    assert result.detail == "timed out after 0.2s"
    assert elapsed < 0.2 + 0.5
    child, grandchild = (int(p) for p in pids.read_text().split())
    assert not Path(f"/proc/{child}").exists(), "the child was reaped"
    assert process_gone_or_zombie(grandchild), "the whole process group was killed"


async def test_probe_from_config_builds_each_kind() -> None:
    http = probe_from_config(ProbeConfig(http="http://127.0.0.1:8080/health", timeout="2s"))
    tcp = probe_from_config(ProbeConfig(tcp="[::1]:5432"))
    command = probe_from_config(ProbeConfig(command=["true"], timeout="250ms"))

    assert isinstance(http, HttpProbe)
    assert (http.url, http.timeout) == ("http://127.0.0.1:8080/health", 2.0)
    assert isinstance(tcp, TcpProbe)
    assert (tcp.host, tcp.port, tcp.timeout) == ("::1", 5432, 1.0)
    assert isinstance(command, CommandProbe)
    assert (command.argv, command.timeout) == (("true",), 0.25)


async def test_cancelled_command_probe_leaves_no_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    probe = CommandProbe(
        ["sh", "-c", f"echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec sleep 5"], 5.0
    )
    task = asyncio.create_task(probe.check())
    deadline = time.monotonic() + 5.0
    while not pid_file.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not Path(f"/proc/{int(pid_file.read_text())}").exists(), "killed and reaped"
