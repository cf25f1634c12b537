"""Real child processes for actuator tests, each started by the test and reaped by it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

PY = sys.executable
SLEEP = "import time; time.sleep(60)"
# Allocates `size` MB at once, then holds it.
STEADY = "import time; b = bytearray({size} << 20); time.sleep(60)"
# Grows by 1 MB every `step` seconds up to `cap` MB, then holds.
GROWER = (
    "import time\n"
    "chunks = []\n"
    "while len(chunks) < {cap}:\n"
    "    chunks.append(bytearray(1 << 20)); time.sleep({step})\n"
    "time.sleep(60)\n"
)
BURNER = "while True: pass"
IGNORE_TERM = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
# Writes "ready", then the name of every catchable signal it gets, to `log`.
RECORDER = (
    "import signal, time\n"
    "def note(sig, frame):\n"
    "    open({log!r}, 'a').write(signal.Signals(sig).name + '\\n')\n"
    "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGCONT):\n"
    "    signal.signal(s, note)\n"
    "open({log!r}, 'a').write('ready\\n')\n"
)


class Children:
    """Starts ``python -c CODE`` children and kills and reaps every one at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, code: str, tag: str = "") -> subprocess.Popen[bytes]:
        argv = [PY, "-c", code] + ([tag] if tag else [])
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def cgroup_of(pid: int, controller: str) -> str:
    """The v1 group path of ``pid`` for ``controller`` (``/`` is the root)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    raise AssertionError(f"pid {pid} has no {controller} cgroup")


def remove_group(path: Path) -> None:
    """Empty a test's own v1 group into the hierarchy root and remove it."""
    if not path.is_dir():
        return
    root = path.parent.parent
    for pid in (path / "cgroup.procs").read_text().split():
        with contextlib.suppress(ProcessLookupError):
            (root / "cgroup.procs").write_text(pid)
    path.rmdir()


async def settled(pid: int, at_least: int, timeout: float = 10.0) -> None:
    """Wait until ``pid`` holds ``at_least`` bytes and its RSS stopped changing for 0.3 s."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        now = rss(pid)
        if now >= at_least and now == last:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} did not settle within {timeout}s (RSS {now})")
        last = now
        await asyncio.sleep(0.3)
