"""Readings of one service's process, its run state, and how to find its pids.

The sampler keeps one :class:`psutil.Process` per pid, so CPU percent is measured
between two calls on the same object; the first call after a pid change yields no
CPU reading rather than a made-up zero.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psutil

from setpoint.clock import Clock, SystemClock
from setpoint.errors import SensorUnavailable
from setpoint.model import Sample, service_entity


class ProcessSampler:
    """Takes the resource readings of a service's main process, by pid.

    Series (entity ``service:NAME``, no labels): ``service.rss_bytes``,
    ``service.cpu_percent`` (100 is one core busy; from the second call on),
    ``service.threads`` and ``service.fds``.
    """

    def __init__(
        self, service: str, proc_root: Path = Path("/proc"), clock: Clock | None = None
    ) -> None:
        self.service = service
        self.entity = service_entity(service)
        self.proc_root = proc_root
        self._clock: Clock = clock or SystemClock()
        self._process: psutil.Process | None = None

    def sample(self, pid: int) -> list[Sample]:
        """Read the process now; raises SensorUnavailable if it is gone or hidden."""
        try:
            process, fresh = self._process_for(pid)
            with process.oneshot():
                cpu = process.cpu_percent(interval=None)
                values = {
                    "service.rss_bytes": float(process.memory_info().rss),
                    "service.threads": float(process.num_threads()),
                    "service.fds": float(process.num_fds()),
                }
        except psutil.Error as exc:
            self._process = None
            raise SensorUnavailable(f"service {self.service}: pid {pid}: {exc}") from exc
        if not fresh:
            values["service.cpu_percent"] = cpu
        ts = self._clock.time()
        return [Sample(k, v, ts, entity=self.entity) for k, v in values.items()]

    def _process_for(self, pid: int) -> tuple[psutil.Process, bool]:
        if self._process is None or self._process.pid != pid:
            self._process = psutil.Process(pid)
            return self._process, True
        return self._process, False

    def state(self, pid: int) -> str | None:
        """Return the kernel's state letter for ``pid`` (R, S, D, T, t, Z...), None if gone.

        >>> ProcessSampler("self").state(os.getpid()) in ("R", "S")
        True
        """
        try:
            stat = (self.proc_root / str(pid) / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return None
        except OSError as exc:
            raise SensorUnavailable(f"service {self.service}: pid {pid}: {exc}") from exc
        # the command name is in parentheses and may itself hold spaces and ")"
        return stat[stat.rindex(")") + 1 :].split()[0]


def find_pids(
    match: str | None, pid_file: Path | None, proc_root: Path = Path("/proc")
) -> list[int]:
    """Find a service's pids: the one in ``pid_file``, or those whose cmdline matches.

    ``match`` is a regular expression searched in the command line (arguments joined
    by spaces); the calling process is never included. An unreadable or stale pid
    file, or no match, gives an empty list: the service is not running.

    >>> find_pids(None, None)
    []
    """
    if pid_file is not None:
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return []
        return [pid] if (proc_root / str(pid)).is_dir() else []
    if match is None:
        return []
    pattern = re.compile(match)
    me = os.getpid()
    pids = []
    with os.scandir(proc_root) as entries:
        for entry in entries:
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                raw = (proc_root / entry.name / "cmdline").read_bytes()
            except OSError:  # exited while we looked
                continue
            cmdline = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
            if cmdline and pattern.search(cmdline):
                pids.append(int(entry.name))
    return sorted(pids)
