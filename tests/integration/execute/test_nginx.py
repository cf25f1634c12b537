"""nginx actuators against a real nginx (Debian's, installed by ``scripts/test-deps.sh``).

The test starts its own nginx in the foreground (``-g 'daemon off;'``) with its own
prefix, config, pid file and logs in tmp, listening on a free 127.0.0.1 port, in
front of two real HTTP backends (``http.server`` on free ports) that answer with their
name. Traffic is counted per backend. nginx is stopped by its pid at the end.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from setpoint.config.integrations import IntegrationsConfig
from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext
from setpoint.execute.nginx import UpstreamDown, UpstreamWeight

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make test-deps)")

CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    include {prefix}/upstreams/*.conf;
    include {prefix}/extra/*.conf;
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://app; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backend(name: str) -> ThreadingHTTPServer:
    class Named(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Named)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Edge:
    prefix: Path
    url: str
    a: str
    b: str
    ctx: ActionContext

    @property
    def managed(self) -> Path:
        return self.prefix / "upstreams" / "app.conf"

    def traffic(self, n: int = 40) -> Counter[str]:
        """Answers per backend for ``n`` requests, each on a new connection."""
        with httpx.Client(headers={"Connection": "close"}, timeout=5) as client:
            return Counter(client.get(self.url).text for _ in range(n))


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    assert NGINX is not None
    prefix = tmp_path / "nginx"
    for sub in ("upstreams", "extra"):
        (prefix / sub).mkdir(parents=True)
    servers = {"a": backend("a"), "b": backend("b")}
    addr = {n: f"127.0.0.1:{s.server_address[1]}" for n, s in servers.items()}
    (prefix / "upstreams" / "app.conf").write_text(
        f"upstream app {{\n    server {addr['a']};\n    server {addr['b']};\n}}\n"
    )
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(CONF.format(prefix=prefix, port=port))
    log = prefix / "error.log"
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(prefix), "-e", str(log), "-g", "daemon off;"]
    )
    integrations = IntegrationsConfig.model_validate(
        {
            "nginx": {
                "edge": {
                    "conf": str(conf),
                    "upstreams_dir": str(prefix / "upstreams"),
                    "pid_file": str(prefix / "nginx.pid"),
                    "binary": NGINX,
                    "prefix": str(prefix),
                    "error_log": str(log),
                }
            }
        }
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, f"nginx exited: {log.read_text()}"
                assert time.monotonic() < deadline, "nginx did not answer within 10s"
                time.sleep(0.05)
        yield Edge(
            prefix,
            url,
            addr["a"],
            addr["b"],
            ActionContext("nginx:edge", integrations=integrations),
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for server in servers.values():
            server.shutdown()
            server.server_close()


async def test_weight_shifts_traffic_and_rollback_shifts_it_back(edge: Edge) -> None:
    assert edge.traffic() == Counter({"a": 20, "b": 20})
    action = UpstreamWeight(
        UpstreamWeight.Config(instance="edge", upstream="app", server=edge.a, weight=3)
    )
    preview = await action.preview(edge.ctx)
    assert f"{edge.a} weight=1 -> {edge.a} weight=3" in preview
    assert edge.traffic() == Counter({"a": 20, "b": 20}), "preview changes nothing"

    assert "reloaded nginx master" in await action.apply(edge.ctx)
    assert (await action.verify(edge.ctx)).measurements == {"weight": 3, "down": False}
    assert edge.traffic() == Counter({"a": 30, "b": 10})

    assert "restored" in await action.rollback(edge.ctx)
    assert edge.traffic() == Counter({"a": 20, "b": 20})


async def test_mark_down_sends_everything_to_the_other_server(edge: Edge) -> None:
    action = UpstreamDown(UpstreamDown.Config(instance="edge", upstream="app", server=edge.b))
    await action.apply(edge.ctx)
    assert (await action.verify(edge.ctx)).ok
    assert edge.traffic() == Counter({"a": 40})
    assert f"server {edge.b} down;" in edge.managed.read_text()

    close = UpstreamDown(
        UpstreamDown.Config(instance="edge", upstream="app", server=edge.b, down=False)
    )
    await close.apply(edge.ctx)
    assert edge.traffic() == Counter({"a": 20, "b": 20})


async def test_failed_config_test_reverts_the_file_and_keeps_serving(edge: Edge) -> None:
    before = edge.managed.read_text()
    (edge.prefix / "extra" / "broken.conf").write_text("no_such_directive on;\n")
    action = UpstreamDown(UpstreamDown.Config(instance="edge", upstream="app", server=edge.b))

    with pytest.raises(ApplyFailed, match=r"nginx -t failed; .* restored: .*no_such_directive"):
        await action.apply(edge.ctx)
    assert edge.managed.read_text() == before
    assert edge.traffic() == Counter({"a": 20, "b": 20})
    with pytest.raises(RollbackFailed, match="not applied"):
        await action.rollback(edge.ctx)


async def test_unknown_server_or_upstream_fails_preview(edge: Edge) -> None:
    ghost = UpstreamDown(UpstreamDown.Config(instance="edge", upstream="app", server="10.9.9.9:1"))
    with pytest.raises(PreviewFailed, match=f"no server 10.9.9.9:1 .servers: {edge.a}, {edge.b}"):
        await ghost.preview(edge.ctx)
    other = UpstreamDown(UpstreamDown.Config(instance="edge", upstream="api", server=edge.a))
    with pytest.raises(PreviewFailed, match=r"api\.conf"):
        await other.preview(edge.ctx)
