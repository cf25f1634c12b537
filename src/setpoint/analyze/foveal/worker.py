"""The foveal tier in a worker process, so that its libraries never load into the agent.

scikit-learn, SciPy and ruptures take a process from about 61 to 187 MiB of RSS, over
the agent's 80 MiB budget. :class:`FovealWorker` is the agent's side: it starts
``python -m setpoint.analyze.foveal.worker`` (:func:`main`, the worker's side), which
runs :class:`~setpoint.analyze.foveal.attention.Foveal` at niceness ``foveal.nice``
and within ``foveal.budget`` per tick, exactly as the agent used to.

**Protocol.** Frames on the worker's stdin and stdout, each a 4-byte big-endian length
and a pickle (protocol 5). Pickle, because both ends are this package run by the same
interpreter over a pipe that no one else holds (no untrusted input), and because it
round-trips a :class:`~setpoint.model.Symptom` exactly: its ``id``, which the record
that clears it names, its enums, and tuples and NaN in its evidence, where JSON would
turn tuples into lists. Samples travel as plain tuples, not ``Sample`` objects: 82 µs
per tick of 520 series instead of 1.1 ms (``bench/foveal_worker.py``).

- agent to worker: ``("hello", config, log level, firing symptoms to adopt,
  forecast job or None)``, then ``("tick", rows, salience)`` each tick;
- worker to agent: ``("ready",)`` or ``("off", reason)``, then, for each tick,
  ``("done", symptoms, looks, deferred, loaded)``, and, from the forecast thread,
  ``("forecasts", symptoms, status or None)``.

**Forecasts.** Given a :class:`ForecastJob` (``forecast.enabled``), the worker opens
the knowledge store itself (:func:`~setpoint.knowledge.open.open_store`, as the CLI
does; it only reads) and runs the
:class:`~setpoint.analyze.forecasting.keeper.ForecastKeeper` on a thread, so that
statsmodels loads here, not in the agent. Its ``forecast.breach`` symptoms come back
as they fire, its status after each pass (:meth:`FovealWorker.forecasts` is what
``/status`` shows); after each tick the series of the entities just looked at go to
:meth:`~setpoint.analyze.forecasting.keeper.ForecastKeeper.look`. With forecasts, the
worker runs even when the foveal tier is disabled (it is sent no ticks then) and stays
up when the tier goes off, for the keeper's sake; without statsmodels the keeper
reports, per series, that it cannot forecast, as it did in the agent.

**Backpressure.** At most :data:`WINDOW` ticks are in flight (sent, not yet done); the
next ones wait in a queue of ``queue`` ticks, and when it is full the oldest is dropped
and counted. The tick never waits: :meth:`FovealWorker.submit` writes the frame to the
pipe's transport, which buffers it if the pipe is full, or appends the tick to the queue;
each answer sends the next queued tick.

**Lifetime.** The worker exits when its stdin closes. The agent closes it on
:meth:`~FovealWorker.stop` and kills the worker by PID if it has not exited
``stop_timeout`` later; when the agent dies, however it dies, the kernel closes it, so
a worker never outlives its agent (it reads stdin between ticks, and imports its
libraries on a thread, so it notices within one tick's work). SIGINT and SIGTERM, which
a terminal's Ctrl-C and ``systemctl stop`` send to the whole process group or unit, are
ignored: the agent, told the same, stops the worker itself, and a worker killed under
it would only be started again.

**Restarts.** A worker that dies is logged once and started again after 1 s, doubling
up to 60 s, and back to 1 s once one has run for a minute; after 10 deaths in a row with
no healthy minute between them the tier is off (logged as an error). Ticks in flight when it died
count as dropped (as do those in flight at a stop); queued ones go to the next worker.
The foveal symptoms firing when it died are neither lost nor cleared for the restart's
sake: the agent hands them to the next worker, which goes on judging them and clears
each when its series has recovered
(:meth:`~setpoint.analyze.foveal.attention.Foveal.adopt`).

**Without the ml extra** the worker says so at once (it looks the libraries up without
importing them), as it does if they later fail to import: the agent logs "foveal
attention is off" once, stops sending ticks and does not start the worker again (a
worker kept up for forecasts is then not restarted either, should it die).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from setpoint.analyze.forecasting.keeper import BREACH
from setpoint.config.foveal import FovealConfig
from setpoint.model import Sample, Symptom, SymptomState

if TYPE_CHECKING:
    from setpoint.analyze.forecasting.keeper import ForecastKeeper, KeeperPolicy
    from setpoint.knowledge.base import KnowledgeStore

log = logging.getLogger(__name__)

MODULE = "setpoint.analyze.foveal.worker"
"""What ``python -m`` runs in the worker."""
WINDOW = 2
"""Ticks sent to the worker and not yet done, at most: one in work, one waiting."""
LIBRARIES = ("sklearn", "ruptures")
"""What the worker needs beyond the base install (the ``ml`` extra)."""

_HEADER = struct.Struct(">I")
_MAX_FRAME = 1 << 28
_HEALTHY = 60.0
_PAGE = os.sysconf("SC_PAGE_SIZE")

Row = tuple[str, float, float, str, dict[str, str] | None]
"""One sample on the wire: series, value, ts, entity, labels (None when there are none)."""


@dataclass(frozen=True, slots=True)
class ForecastJob:
    """What the worker needs to keep forecasts: the keeper's policy and where the store is.

    ``url`` is ``knowledge.url`` (None: SQLite in ``data_dir``); it travels in the hello
    frame, never on the command line, which ``ps`` shows.
    """

    policy: KeeperPolicy
    url: str | None
    data_dir: Path


def frame(message: object) -> bytes:
    """``message`` as one frame: its pickle's length, then the pickle.

    >>> s = Symptom("degradation", "service:web", 1.0, evidence={"expected_range": (1.0, 2.0)})
    >>> back = unframe(frame(("done", [s]))[_HEADER.size :])[1][0]
    >>> back == s, back.id == s.id, back.evidence["expected_range"]
    (True, True, (1.0, 2.0))
    """
    payload = pickle.dumps(message, protocol=5)
    return _HEADER.pack(len(payload)) + payload


def unframe(payload: bytes) -> Any:
    """The message a frame's payload holds."""
    return pickle.loads(payload)


def frame_size(header: bytes) -> int:
    """The payload size a header announces; ValueError when it cannot be a frame."""
    (size,) = _HEADER.unpack(header)
    if size > _MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is over the {_MAX_FRAME} byte limit")
    return int(size)


def rows(samples: Sequence[Sample]) -> list[Row]:
    """Samples as plain tuples, cheap to pickle."""
    return [
        (s.series, s.value, s.ts, s.entity, dict(s.labels) if s.labels else None) for s in samples
    ]


def rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid`` from ``/proc``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def _exit_reason(code: int | None) -> str:
    """How a process ended, from its return code."""
    if code is None:
        return "could not be started"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


class FovealWorker:
    """The agent's handle on the foveal worker process: feed it ticks, publish its symptoms.

    ``emit`` is called on the event loop with each symptom the worker returns. Call
    :meth:`start` and :meth:`stop` on the agent's loop; :meth:`submit` and
    :meth:`status` never block.
    """

    def __init__(
        self,
        config: FovealConfig,
        emit: Callable[[Symptom], object],
        *,
        forecast: ForecastJob | None = None,
        queue: int = 8,
        backoff: tuple[float, float] = (1.0, 60.0),
        give_up: int = 10,
        stop_timeout: float = 5.0,
    ) -> None:
        if queue < 1:
            raise ValueError(f"foveal worker queue must hold at least one tick, not {queue}")
        self.config = config
        self._emit = emit
        self._job = forecast
        self._forecasts: dict[str, dict[str, Any]] | None = None
        self._capacity = queue
        self._first_delay, self._max_delay = backoff
        self._give_up = give_up
        self._stop_timeout = stop_timeout
        self._queue: deque[tuple[tuple[Sample, ...], dict[str, float]]] = deque()
        self._firing: dict[str, Symptom] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._stdin: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._in_flight = 0
        self.state = "stopped"
        """stopped, starting, running, restarting (waiting out the backoff) or off."""
        self.off_reason: str | None = None
        self.ticks_sent = 0
        self.ticks_done = 0
        self.dropped = 0
        self.restarts = 0
        self.looks = 0
        self.deferred = 0
        self.loaded = False

    @property
    def accepting(self) -> bool:
        """True while ticks are wanted: enabled, started, not stopping, not off."""
        return (
            self.config.enabled
            and self._task is not None
            and not self._stopping.is_set()
            and self.state != "off"
        )

    @property
    def pending(self) -> int:
        """Ticks queued or in flight."""
        return len(self._queue) + self._in_flight

    @property
    def pid(self) -> int | None:
        """The worker's PID while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def start(self) -> None:
        """Start the worker, and keep one running until :meth:`stop`."""
        if self._task is None:
            self._stopping.clear()
            job = self._job
            if job is not None and self._forecasts is None:
                self._forecasts = {}
                for entity, key in job.policy.series:
                    self._forecasts.setdefault(entity, {})[key] = {"error": "not forecast yet"}
            self._task = asyncio.create_task(self._supervise(), name="foveal-worker")

    def submit(self, samples: Sequence[Sample], salience: Mapping[str, float]) -> None:
        """Queue one tick for the worker; when the queue is full the oldest tick goes."""
        if not self.accepting:
            return
        if len(self._queue) >= self._capacity:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append((tuple(samples), dict(salience)))
        self._send()

    async def stop(self) -> None:
        """Close the worker's stdin, wait ``stop_timeout`` for it to exit, else kill it."""
        task = self._task
        if task is None:
            return
        self._stopping.set()
        self._stdin = None
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(task), self._stop_timeout)
        except TimeoutError:
            proc = self._proc
            if proc is not None and proc.returncode is None:
                log.warning(
                    "foveal worker (pid %d) still running %.0f s after it was asked to stop;"
                    " killing it",
                    proc.pid,
                    self._stop_timeout,
                )
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await task
        self._task = None
        self._queue.clear()
        if self.state != "off":
            self.state = "stopped"

    def status(self) -> dict[str, Any]:
        """What ``/status`` shows: the worker's PID, RSS, state and counters."""
        pid = self.pid
        return {
            "state": self.state,
            "pid": pid,
            "rss_bytes": rss_bytes(pid) if pid is not None else None,
            "libraries_loaded": self.loaded,
            "ticks_sent": self.ticks_sent,
            "queued": len(self._queue),
            "dropped": self.dropped,
            "restarts": self.restarts,
            "looks": self.looks,
            "deferred": self.deferred,
            "firing": len(self._firing),
            "off_reason": self.off_reason,
        }

    def forecasts(self) -> dict[str, dict[str, Any]] | None:
        """The keeper's last status (by entity, then series key); None without forecasts.

        Until the worker's first pass, each configured series says it is not forecast yet.
        """
        return self._forecasts

    async def _supervise(self) -> None:
        """Run workers one after the other, with a growing pause after each death.

        After ``give_up`` deaths in a row, none after a healthy minute, the tier is off:
        a worker that cannot live would otherwise be restarted once a minute forever.
        """
        delay, quick = self._first_delay, 0
        while True:
            began = time.monotonic()
            code = await self._run_once()
            self.dropped += self._in_flight
            self._in_flight = 0
            if self._stopping.is_set() or self.state == "off":
                return
            if time.monotonic() - began >= _HEALTHY:
                delay, quick = self._first_delay, 0
            quick += 1
            if quick >= self._give_up:
                self.state = "off"
                self.off_reason = f"its worker died {quick} times in a row ({_exit_reason(code)})"
                log.error("foveal attention is off until setpoint restarts: %s", self.off_reason)
                return
            self.restarts += 1
            log.warning(
                "foveal worker %s; starting it again in %.0f s (restart %d, %d symptom(s)"
                " firing handed over)",
                _exit_reason(code),
                delay,
                self.restarts,
                len(self._firing),
            )
            self.state = "restarting"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            delay = min(2 * delay, self._max_delay)

    async def _run_once(self) -> int | None:
        """One worker, from its start to its exit; its return code (None: no start)."""
        self.state = "starting"
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-P",
                "-m",
                MODULE,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            log.error("cannot start the foveal worker: %s", exc)
            return None
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        if self._stopping.is_set():
            proc.stdin.close()
        else:
            level = logging.getLogger("setpoint").getEffectiveLevel()
            hello = ("hello", self.config, level, list(self._firing.values()), self._job)
            proc.stdin.write(frame(hello))
            self._stdin = proc.stdin
            self._send()
        try:
            await self._read(proc, proc.stdout)
        finally:
            self._stdin = None
            proc.stdin.close()
            code = await proc.wait()
            self._proc = None
        return code

    def _send(self) -> None:
        """Write queued ticks while fewer than :data:`WINDOW` are in flight.

        The pipe's transport takes the frame at once (into its buffer, if the pipe is
        full), so nothing waits; the window bounds that buffer.
        """
        stdin = self._stdin
        while stdin is not None and self._queue and self._in_flight < WINDOW:
            samples, salience = self._queue.popleft()
            stdin.write(frame(("tick", rows(samples), salience)))
            self._in_flight += 1
            self.ticks_sent += 1

    async def _read(self, proc: asyncio.subprocess.Process, stdout: asyncio.StreamReader) -> None:
        """Handle the worker's messages until its stdout closes."""
        while True:
            try:
                header = await stdout.readexactly(_HEADER.size)
                self._on_message(unframe(await stdout.readexactly(frame_size(header))))
            except asyncio.IncompleteReadError:
                return
            except Exception:
                log.exception("foveal worker (pid %d) sent a bad message; killing it", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                return

    def _on_message(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "done":
            _, symptoms, self.looks, self.deferred, self.loaded = message
            self._in_flight -= 1
            self.ticks_done += 1
            self._send()
            self._publish(symptoms)
        elif kind == "forecasts":
            _, symptoms, status = message
            if status is not None:
                self._forecasts = status
            self._publish(symptoms)
        elif kind == "ready":
            self.state = "running"
        elif kind == "off":
            self.state, self.off_reason = "off", str(message[1])
            self._queue.clear()
            log.warning("foveal attention is off: %s (install setpoint[ml])", self.off_reason)

    def _publish(self, symptoms: Sequence[Symptom]) -> None:
        """Keep track of what fires (to hand to a restarted worker) and emit each symptom."""
        for symptom in symptoms:
            if symptom.state is SymptomState.FIRING:
                self._firing[symptom.id] = symptom
            else:
                self._firing.pop(symptom.clears or "", None)
            self._emit(symptom)


def _missing_library() -> str | None:
    """Why the worker cannot look, if a library it needs is not installed."""
    for name in LIBRARIES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False
        if not found:
            return f"No module named {name!r}"
    return None


def _read_frame(stream: IO[bytes]) -> Any | None:
    """The next message on ``stream``; None at its end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    size = frame_size(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return unframe(payload)


class _Out:
    """The worker's stdout, shared by the tick loop and the forecast thread."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        """Write one frame; BrokenPipeError when the agent is gone."""
        data = frame(message)
        with self._lock:
            self._stream.write(data)
            self._stream.flush()


def _forecasts(
    job: ForecastJob, adopt: Sequence[Symptom], out: _Out
) -> tuple[ForecastKeeper, KnowledgeStore] | None:
    """Start the keeper on its thread; it and its store, or None when there is no store.

    When the store cannot be opened, each series says why in the status, once.
    """
    from setpoint.analyze.forecasting.keeper import ForecastKeeper
    from setpoint.errors import KnowledgeError
    from setpoint.knowledge.open import open_store

    try:
        store = open_store(job.url, job.data_dir)
    except KnowledgeError as exc:
        log.error("forecasts are off: cannot open the knowledge store: %s", exc)
        status: dict[str, dict[str, Any]] = {}
        for entity, key in job.policy.series:
            status.setdefault(entity, {})[key] = {"error": f"cannot open the store: {exc}"}
        out.send(("forecasts", [], status))
        return None

    def emit(symptom: Symptom) -> None:
        with contextlib.suppress(BrokenPipeError):
            out.send(("forecasts", [symptom], None))

    def report() -> None:
        with contextlib.suppress(BrokenPipeError):
            out.send(("forecasts", [], keeper.status()))

    keeper = ForecastKeeper(job.policy, store.samples, emit, after_pass=report)
    keeper.adopt(adopt)
    keeper.start()
    return keeper, store


def _salient(
    before: Mapping[str, float], after: Mapping[str, float], samples: Sequence[Sample]
) -> list[tuple[str, str]]:
    """The series of the entities looked at in this tick (their look time changed)."""
    looked = {entity for entity, at in after.items() if before.get(entity) != at}
    return sorted({s.ident for s in samples if s.entity in looked})


def main() -> int:
    """The worker: tick by tick from stdin, answers on stdout, until stdin closes."""
    for ask in (signal.SIGINT, signal.SIGTERM):
        signal.signal(ask, signal.SIG_IGN)
    out = _Out(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)  # a stray print must not corrupt the frames
    inp = sys.stdin.buffer
    hello = _read_frame(inp)
    if hello is None:
        return 0
    _, config, level, firing, job = hello
    os.nice(config.nice)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s[foveal worker %(process)d]: %(message)s",
    )
    kept = None
    try:
        if job is not None:
            kept = _forecasts(job, [s for s in firing if s.kind == BREACH], out)
        foveal = [s for s in firing if s.kind != BREACH]
        _serve(config, foveal, inp, out, kept[0] if kept is not None else None)
    except BrokenPipeError:
        return 0  # the agent is gone
    finally:
        if kept is not None:
            keeper, store = kept
            keeper.stop(timeout=2.0)
            store.close()
    return 0


def _serve(
    config: FovealConfig,
    firing: Sequence[Symptom],
    inp: IO[bytes],
    out: _Out,
    keeper: ForecastKeeper | None,
) -> None:
    """Answer ticks until stdin closes; a worker kept for forecasts outlives the tier."""
    if not config.enabled:
        out.send(("ready",))
    elif _look(config, firing, inp, out, keeper) and keeper is None:
        return
    while _read_frame(inp) is not None:
        pass


def _look(
    config: FovealConfig,
    firing: Sequence[Symptom],
    inp: IO[bytes],
    out: _Out,
    keeper: ForecastKeeper | None,
) -> bool:
    """Run the foveal tier on each tick until stdin closes; True when it went off first."""
    missing = _missing_library()
    if missing is not None:
        out.send(("off", missing))
        return True
    from setpoint.analyze.foveal.attention import Foveal

    foveal = Foveal(config)
    foveal.adopt(firing)
    out.send(("ready",))
    while (message := _read_frame(inp)) is not None:
        _, tick, salience = message
        samples = [Sample(n, v, ts, e, labels or {}) for n, v, ts, e, labels in tick]
        before = foveal.looked()
        symptoms = foveal.observe(samples, salience)
        if foveal.off:
            out.send(("off", "its libraries failed to import; the worker logged why"))
            return True
        out.send(("done", symptoms, foveal.looks, foveal.deferred, foveal.loaded))
        if keeper is not None:
            keeper.look(_salient(before, foveal.looked(), samples))
    return False


if __name__ == "__main__":
    sys.exit(main())
