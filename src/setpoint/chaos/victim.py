"""A small HTTP service that can be told to misbehave, for ``setpoint chaos``.

``GET /`` answers ``{"pid": ..., "mode": ...}`` with 200 while healthy. ``POST
/fault/MODE`` switches the fault: ``ok``, ``error`` (answer 500), ``slow`` (answer
after 5 s, past any probe timeout) or ``burn`` (spin one CPU). Crashes and hangs are
injected from outside with SIGKILL and SIGSTOP, as they happen in real life. Run as
``python -m setpoint.chaos.victim PORT``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from os import getpid

MODES = ("ok", "error", "slow", "burn")
SLOW_S = 5.0


class _State:
    """The fault currently switched on, shared by the request threads."""

    mode = "ok"


def _burn() -> None:
    """Spin while the mode is ``burn``: a runaway loop that costs one CPU."""
    while _State.mode == "burn":
        pass


class Handler(BaseHTTPRequestHandler):
    """Answers the probe according to the fault mode, and switches it on request."""

    def do_GET(self) -> None:
        """The health endpoint: 200 unless the mode says otherwise."""
        if _State.mode == "slow":
            time.sleep(SLOW_S)
        status = 500 if _State.mode == "error" else 200
        self._reply(status, {"pid": getpid(), "mode": _State.mode})

    def do_POST(self) -> None:
        """``/fault/MODE`` switches the fault; unknown modes answer 404."""
        mode = self.path.removeprefix("/fault/")
        if mode not in MODES:
            self._reply(404, {"error": f"unknown mode {mode!r}", "modes": list(MODES)})
            return
        _State.mode = mode
        if mode == "burn":
            threading.Thread(target=_burn, daemon=True).start()
        self._reply(200, {"pid": getpid(), "mode": mode})

    def _reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the probe asks every half second."""


def main(argv: list[str]) -> None:
    """Serve on 127.0.0.1:PORT until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", int(argv[0])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
