"""What the foveal worker process costs the agent: CPU per tick to send, and RSS.

Two measurements:

1. the send path, in this process as the agent: a real worker is sent ``--ticks`` idle
   ticks of 52 and 520 series, one every 10 ms, and the CPU of this process (submit,
   encode, write, read the answer) is compared with the same loop sending nothing
   (three such pairs, the median difference);
   also the encoding alone (:func:`~setpoint.analyze.foveal.worker.rows` and
   :func:`~setpoint.analyze.foveal.worker.frame`);
2. RSS: a real ``setpoint run`` on the default configuration plus one service whose
   memory steps up after ``--step`` seconds, so that the tier looks at it: the agent's
   and the worker's RSS before the first look and after it, and the agent's RSS with
   the tier off, for comparison.

    .venv/bin/python bench/foveal_worker.py [--ticks 1000] [--step 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from setpoint.analyze.foveal.worker import FovealWorker, frame, rows
from setpoint.config.foveal import FovealConfig
from setpoint.model import Sample

MIB = 1024 * 1024


def tick(series: int, t: int) -> list[Sample]:
    """One tick of host-like samples: a third on the host, the rest on seven services."""
    return [
        Sample(
            f"s.series{i}",
            100.0 + i + (t % 7) * 0.1,
            float(t),
            "host" if i % 3 else f"service:s{i % 7}",
        )
        for i in range(series)
    ]


async def send_path(series: int, ticks: int) -> tuple[float, float]:
    """CPU ms per tick of this process with and without sending each tick to a worker."""
    batches = [tick(series, t) for t in range(ticks)]
    salience = {"host": 0.0, **{f"service:s{i}": 0.0 for i in range(7)}}
    worker = FovealWorker(FovealConfig(), lambda symptom: None)
    await worker.start()
    while worker.state != "running":
        await asyncio.sleep(0.01)

    async def run(send: bool) -> float:
        started = time.process_time()
        for batch in batches:
            if send:
                worker.submit(batch, salience)
            await asyncio.sleep(0.01)
        while worker.pending:
            await asyncio.sleep(0.01)
        return 1000 * (time.process_time() - started) / ticks

    pairs = [(await run(False), await run(True)) for _ in range(3)]
    idle = statistics.median(p[0] for p in pairs)
    sending = statistics.median(p[1] - p[0] for p in pairs) + idle
    status = worker.status()
    await worker.stop()
    assert status["dropped"] == 0, status
    return sending - idle, idle


def encode_us(series: int, repeat: int = 500) -> float:
    batch = tick(series, 0)
    salience = {"host": 0.0}
    started = time.process_time()
    for _ in range(repeat):
        frame(("tick", rows(batch), salience))
    return 1e6 * (time.process_time() - started) / repeat


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid``, in bytes."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) * 1024
    return found


def memory(step: float, foveal: bool = True) -> dict[str, Any]:
    """RSS of a default ``setpoint run`` and its worker, before and after the first look.

    With ``foveal`` false, the same run with ``foveal.enabled: false``: the agent's RSS
    ``step`` + 10 s after it started, for comparison.
    """
    hog = f"import time; time.sleep({step}); kept = bytearray(80_000_000); time.sleep(600)"
    port = free_port()
    command = json.dumps([sys.executable, "-c", hog])
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "setpoint.log", "wb") as log:
        config = Path(tmp) / "setpoint.yaml"
        off = "" if foveal else "foveal: {enabled: false}\n"
        config.write_text(
            f"version: 1\ninterval: 1s\n{off}services:\n  hog:\n    command: {command}\n"
        )
        argv = [sys.executable, "-m", "setpoint", "run", "--config", str(config)]
        argv += ["--data-dir", str(Path(tmp) / "data"), "--listen", f"127.0.0.1:{port}"]
        agent = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not foveal:
                time.sleep(step + 10)
                return {"agent": status_of(agent.pid)}
            return _watch(agent.pid, port, step)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)


def _watch(agent: int, port: int, step: float) -> dict[str, Any]:
    def foveal() -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
            return dict(json.load(r)["foveal"] or {})

    deadline = time.monotonic() + step + 240
    before: dict[str, Any] = {}
    while time.monotonic() < deadline:
        time.sleep(1)
        try:
            f = foveal()
        except OSError:
            continue
        if f.get("state") == "running" and not before and f["ticks_sent"] >= 10:
            before = {"agent": status_of(agent), "worker": status_of(f["pid"]), "status": f}
        if f.get("looks", 0) > 0:
            time.sleep(5)
            f = foveal()
            after = {"agent": status_of(agent), "worker": status_of(f["pid"]), "status": f}
            return {"before": before, "after": after}
    raise SystemExit(f"no look within {step + 240:.0f} s: {foveal()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--step", type=float, default=40.0)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    print("1. send path (agent side, CPU of this process per tick):")
    for series in (52, 520):
        extra, idle = asyncio.run(send_path(series, args.ticks))
        print(
            f"   {series:4d} series: encode {encode_us(series):6.1f} us;"
            f" whole send path {1000 * extra:6.1f} us per tick (loop alone {1000 * idle:.1f} us)"
        )
    print("2. RSS of a default `setpoint run` and its foveal worker:")
    found = memory(args.step)
    for when in ("before", "after"):
        m = found[when]
        print(
            f"   {when} the first look: agent RSS {m['agent']['VmRSS'] / MIB:.1f} MiB"
            f" (peak {m['agent']['VmHWM'] / MIB:.1f}), worker RSS {m['worker']['VmRSS'] / MIB:.1f}"
            f" MiB (peak {m['worker']['VmHWM'] / MIB:.1f}); worker status {m['status']}"
        )
    off = memory(args.step, foveal=False)["agent"]
    print(
        f"   with foveal.enabled false, {args.step + 10:.0f} s in: agent RSS"
        f" {off['VmRSS'] / MIB:.1f} MiB (peak {off['VmHWM'] / MIB:.1f})"
    )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
