"""Readings of one service's process, its run state, and how to find its pids.

The sampler keeps one :class:`psutil.Process` per pid, so CPU percent is measured
between two calls on the same object; the first call after a pid change yields no
CPU reading rather than a made-up zero. The memory limit is looked up again every
``limit_every`` seconds, and on every call while the process is young (``settle``
seconds): a process is often put in its cgroup, or given its limit, just after it
starts (``systemd-run --scope``, container runtimes, a worker that moves itself), and
the OOM predictor must see that domain from the start, not ten seconds into a leak.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psutil

from setpoint.clock import Clock, SystemClock
from setpoint.errors import SensorUnavailable
from setpoint.model import Sample, service_entity
from setpoint.monitor.cgroup import MemoryLimit, memory_limit, with_current_usage


class ProcessSampler:
    """Takes the resource readings of a service's main process, by pid.

    Series (entity ``service:NAME``, no labels): ``service.rss_bytes``,
    ``service.cpu_percent`` (100 is one core busy; from the second call on),
    ``service.threads``, ``service.fds`` and ``service.fds_limit`` (soft
    RLIMIT_NOFILE). Under a memory limit (see :mod:`setpoint.monitor.cgroup`) also
    ``service.memory_limit_bytes`` (label ``cgroup``: the cgroup path or ``rlimit_as``)
    and ``service.memory_used_bytes``, the usage counted against it.
    """

    def __init__(
        self,
        service: str,
        proc_root: Path = Path("/proc"),
        clock: Clock | None = None,
        cgroup_root: Path = Path("/sys/fs/cgroup"),
    ) -> None:
        self.service = service
        self.entity = service_entity(service)
        self.proc_root = proc_root
        self.cgroup_root = cgroup_root
        self._clock: Clock = clock or SystemClock()
        self._process: psutil.Process | None = None
        self._limit: MemoryLimit | None = None
        self._limit_at = float("-inf")
        self._seen_at = float("-inf")
        self.limit_every = 10.0
        self.settle = 30.0

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
                    "service.fds_limit": float(process.rlimit(psutil.RLIMIT_NOFILE)[0]),
                }
                limit = self._memory_limit(process, fresh)
        except psutil.Error as exc:
            self._process = None
            raise SensorUnavailable(f"service {self.service}: pid {pid}: {exc}") from exc
        if not fresh:
            values["service.cpu_percent"] = cpu
        ts = self._clock.time()
        samples = [Sample(k, v, ts, entity=self.entity) for k, v in values.items()]
        if limit is not None:
            labels = {"cgroup": limit.source}
            samples += [
                Sample("service.memory_limit_bytes", limit.limit, ts, self.entity, labels),
                Sample("service.memory_used_bytes", limit.used, ts, self.entity),
            ]
        return samples

    def _memory_limit(self, process: psutil.Process, fresh: bool) -> MemoryLimit | None:
        """The process's memory limit: looked up every ``limit_every`` s, usage every call."""
        vms = float(process.memory_info().vms)
        now = self._clock.monotonic()
        if fresh:
            self._seen_at = now
        young = now - self._seen_at < self.settle
        if young or now - self._limit_at >= self.limit_every:
            self._limit_at = now
            self._limit = memory_limit(
                process.pid,
                vms,
                process.rlimit(psutil.RLIMIT_AS)[0],
                self.proc_root,
                self.cgroup_root,
            )
            return self._limit
        if self._limit is None:
            return None
        return with_current_usage(self._limit, vms)

    def _process_for(self, pid: int) -> tuple[psutil.Process, bool]:
        if self._process is None or self._process.pid != pid:
            self._process = psutil.Process(pid)
            return self._process, True
        return self._process, False


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
