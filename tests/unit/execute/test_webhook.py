"""``webhook.call`` against a real HTTP server the test starts on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from setpoint.errors import ApplyFailed
from setpoint.execute.base import ActionContext, Reversible
from setpoint.execute.webhook import WebhookCall

CTX = ActionContext("host")


class QuietServer(ThreadingHTTPServer):
    """A client that gave up (the timeout test) is expected: no traceback for it."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class Server:
    """Records each request; ``/fail`` answers 503, ``/slow`` waits on an event."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                server.requests.append(
                    {"method": self.command, "path": self.path, "body": body, **self.headers}
                )
                if self.path == "/slow":
                    server.release.wait(5)
                status = 503 if self.path == "/fail" else 200
                reply = b"upstream down" if status == 503 else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


async def test_preview_sends_nothing_and_apply_posts_the_json(server: Server) -> None:
    config = WebhookCall.Config.model_validate(
        {
            "url": f"{server.url}/hook",
            "json": {"text": "web restarted"},
            "headers": {"Authorization": "Bearer s3cret"},
        }
    )
    actuator = WebhookCall(config)

    preview = await actuator.preview(CTX)
    assert (
        preview
        == f"POST {server.url}/hook with a JSON body headers ['Authorization'] (timeout 10s)"
    )
    assert "s3cret" not in preview + repr(config)
    assert server.requests == []

    done = await actuator.apply(CTX)
    assert done.startswith(f"POST {server.url}/hook -> 200 in ")
    [request] = server.requests
    assert json.loads(request["body"]) == {"text": "web restarted"}
    assert request["Authorization"] == "Bearer s3cret"
    check = await actuator.verify(CTX)
    assert check.ok and check.measurements["status"] == 200
    assert check.measurements["body_tail"] == '{"ok": true}'
    assert not isinstance(actuator, Reversible)


async def test_an_error_status_raises_with_the_body(server: Server) -> None:
    actuator = WebhookCall(WebhookCall.Config(url=f"{server.url}/fail", method="PUT"))
    with pytest.raises(ApplyFailed, match=r"PUT .*/fail -> 503 in .*: upstream down"):
        await actuator.apply(CTX)
    assert not (await actuator.verify(CTX)).ok
    accepting = WebhookCall(WebhookCall.Config(url=f"{server.url}/fail", ok_status=[503]))
    await accepting.apply(CTX)
    assert (await accepting.verify(CTX)).ok


async def test_a_slow_server_hits_the_timeout(server: Server) -> None:
    actuator = WebhookCall(WebhookCall.Config(url=f"{server.url}/slow", method="GET", timeout=0.3))
    with pytest.raises(ApplyFailed, match="ReadTimeout"):
        await actuator.apply(CTX)
    server.release.set()


async def test_nobody_listening_is_an_apply_failure(server: Server) -> None:
    url = server.url
    server.close()
    actuator = WebhookCall(WebhookCall.Config(url=url))
    with pytest.raises(ApplyFailed, match="ConnectError"):
        await actuator.apply(CTX)
    with pytest.raises(ValidationError, match="must be an http"):
        WebhookCall.Config(url="file:///etc/passwd")
