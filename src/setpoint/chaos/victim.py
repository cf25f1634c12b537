"""A small HTTP service that can be told to misbehave, for ``setpoint chaos``.

``GET /`` answers ``{"pid": ..., "mode": ...}`` with 200 while healthy. ``POST
/fault/MODE`` switches the fault: ``ok`` (and drop leaked memory), ``error`` (answer
500), ``slow`` (answer after 5 s, past any probe timeout), ``burn`` (spin one CPU) or
``leak`` (hold 8 more MiB every second, up to 1 GiB, the cap that keeps even an
unlimited victim from hurting the machine). Crashes and hangs are injected from outside
with SIGKILL and SIGSTOP, as they happen in real life.

Run as ``python -m setpoint.chaos.victim PORT [--cgroup DIR] [--rlimit-as BYTES]
[--ballast MIB]``: the first two put the process under a memory limit before it
serves (it joins the cgroup at DIR, or limits its own address space), the last makes
it hold MIB of memory for good, as a bigger steady neighbour does.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from os import getpid
from pathlib import Path
from typing import ClassVar

MODES = ("ok", "error", "slow", "burn", "leak")
SLOW_S = 5.0
MIB = 2**20
LEAK_MIB_PER_S = 8
LEAK_CAP_MIB = 1024


class _State:
    """The fault currently switched on and the memory leaked, shared by the threads."""

    mode = "ok"
    leaked: ClassVar[list[bytearray]] = []


def _burn() -> None:
    """Spin while the mode is ``burn``: a runaway loop that costs one CPU."""
    while _State.mode == "burn":
        pass


def _leak() -> None:
    """Hold one more touched MiB every 1/LEAK_MIB_PER_S s while the mode is ``leak``."""
    while _State.mode == "leak" and len(_State.leaked) < LEAK_CAP_MIB:
        try:
            _State.leaked.append(bytearray(b"\1") * MIB)
        except MemoryError:  # RLIMIT_AS reached: the failure has happened
            return
        time.sleep(1 / LEAK_MIB_PER_S)


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
        before, _State.mode = _State.mode, mode
        if mode == "ok":
            _State.leaked.clear()
        if mode in ("burn", "leak") and before != mode:
            threading.Thread(target=_burn if mode == "burn" else _leak, daemon=True).start()
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


def main(argv: list[str] | None = None) -> None:
    """Join the memory limit, listen on 127.0.0.1:PORT, take the ballast, serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m setpoint.chaos.victim")
    parser.add_argument("port", type=int)
    parser.add_argument("--cgroup", type=Path, help="a cgroup directory to join first")
    parser.add_argument("--rlimit-as", type=int, help="an address-space limit in bytes")
    parser.add_argument("--ballast", type=int, default=0, help="MiB to hold for good")
    args = parser.parse_args(argv)
    if args.cgroup is not None:
        (args.cgroup / "cgroup.procs").write_text(f"{getpid()}\n")
    if args.rlimit_as is not None:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (args.rlimit_as, hard))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    _ballast = bytearray(b"\1") * (args.ballast * MIB)  # after bind: probes queue meanwhile
    server.serve_forever()


if __name__ == "__main__":
    main()
