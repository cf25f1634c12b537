"""A fake HTTP API server that replays recorded responses and records the requests.

Named as a fake on purpose: it stands in for the Docker Engine and Kubernetes API
servers, which cannot run here. It speaks real HTTP on 127.0.0.1, so the real client
libraries (docker SDK, kubernetes client) build and send their real requests; the
responses are JSON documents recorded from those APIs, kept in ``tests/fixtures``.

Each route is a method and a path regex with a list of replies, used in order; the
last one repeats. A request that matches no route gets a 404 with a JSON message.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None

    @classmethod
    def fixture(cls, name: str, status: int = 200) -> Reply:
        return cls(status, json.loads((FIXTURES / name).read_text()))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class ReplayServer:
    routes: list[tuple[str, re.Pattern[str], list[Reply]]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def route(self, method: str, path: str, *replies: Reply) -> None:
        self.routes.append((method, re.compile(path), list(replies)))

    def sent(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path, r.path)]

    def _reply(self, method: str, path: str) -> Reply:
        for m, pattern, replies in self.routes:
            if m == method and pattern.fullmatch(path):
                return replies.pop(0) if len(replies) > 1 else replies[0]
        return Reply(404, {"message": f"fake: no recorded reply for {method} {path}"})


@contextmanager
def serve(fake: ReplayServer) -> Iterator[ReplayServer]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fake.requests.append(
                Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
            )
            reply = fake._reply(self.command, parts.path)
            body = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
