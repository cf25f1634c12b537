"""The host sensor: CPU, memory, swap, PSI, disks, network, load, file descriptors.

It runs every tick, so it is built to be cheap: a few small procfs reads, no
subprocesses, no sleeping. Counters become per-second rates against the previous
tick, so the first tick yields no rates. CPU percentages come from
:func:`psutil.cpu_times` deltas kept here, not :func:`psutil.cpu_percent`, whose
baseline is kept per thread and so is lost whenever an executor runs the sensor on
another thread.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psutil
from pydantic import BaseModel, ConfigDict, Field

from setpoint.clock import Clock, SystemClock
from setpoint.errors import SensorUnavailable
from setpoint.model import Sample

_Reading = tuple[str, float]
"""A series name and its value (a gauge), or a counter name and its running total."""

_Family = Callable[[Path], Iterable[_Reading]]
"""Reads one family of readings; its argument is the procfs root."""

_EXCLUDED_FSTYPES = frozenset(
    {
        # memory and kernel filesystems: no disk behind them
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "sysfs",
        "tmpfs",
        "tracefs",
        # read-only images: always full by design
        "iso9660",
        "squashfs",
        # network filesystems: statvfs blocks while the server is away
        "cifs",
        "fuse.sshfs",
        "nfs",
        "nfs4",
        "smb3",
    }
)
"""Filesystem types that are not local disks worth watching (``overlay`` is watched:
it is the root of a container)."""


class HostSensorConfig(BaseModel):
    """Where procfs is mounted and which filesystem types are not disks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proc_root: Path = Path("/proc")
    exclude_fstypes: frozenset[str] = Field(
        _EXCLUDED_FSTYPES, description="filesystem types left out of host.disk.* series"
    )


def _cpu(proc_root: Path) -> Iterator[_Reading]:
    t = psutil.cpu_times()
    # guest time is already counted in user and nice; iowait is not counted in idle
    total = sum(t) - t.guest - t.guest_nice
    yield "cpu.total", total
    yield "cpu.busy", total - t.idle - t.iowait
    yield "cpu.iowait", t.iowait


def _memory(proc_root: Path) -> Iterator[_Reading]:
    vm = psutil.virtual_memory()
    yield "host.memory.used_percent", vm.percent
    yield "host.memory.available_bytes", float(vm.available)


def _swap(proc_root: Path) -> Iterator[_Reading]:
    yield "host.swap.used_percent", psutil.swap_memory().percent


def _disk_io(proc_root: Path) -> Iterator[_Reading]:
    io = psutil.disk_io_counters(perdisk=False, nowrap=False)
    if io is not None:  # a host (or container) may show no block devices at all
        yield "disk.read_bytes", float(io.read_bytes)
        yield "disk.write_bytes", float(io.write_bytes)
        yield "disk.busy_ms", float(io.busy_time)


def _net(proc_root: Path) -> Iterator[_Reading]:
    nics = [
        n for name, n in psutil.net_io_counters(pernic=True, nowrap=False).items() if name != "lo"
    ]
    yield "net.rx_bytes", float(sum(n.bytes_recv for n in nics))
    yield "net.tx_bytes", float(sum(n.bytes_sent for n in nics))
    yield "net.errors", float(sum(n.errin + n.errout for n in nics))


def _load(proc_root: Path) -> Iterator[_Reading]:
    fields = (proc_root / "loadavg").read_text().split()
    for series, field in zip(("host.load1", "host.load5", "host.load15"), fields, strict=False):
        yield series, float(field)


def _fds(proc_root: Path) -> Iterator[_Reading]:
    allocated, unused, maximum = (proc_root / "sys/fs/file-nr").read_text().split()
    yield "host.fds.open", float(int(allocated) - int(unused))
    yield "host.fds.max", float(maximum)


def _processes(proc_root: Path) -> Iterator[_Reading]:
    yield "host.processes.count", float(sum(map(str.isdigit, os.listdir(proc_root))))


def _vmstat(proc_root: Path) -> Iterator[_Reading]:
    for line in (proc_root / "vmstat").read_text().splitlines():
        if line.startswith("pgmajfault "):
            yield "vmstat.pgmajfault", float(line.split()[1])
        elif line.startswith("oom_kill "):  # a running total: the OOM predictor sees it grow
            yield "host.memory.oom_kills", float(line.split()[1])


COSTLY_ORDER = 3
"""The kernel's PAGE_ALLOC_COSTLY_ORDER: larger blocks are hard to find when fragmented."""


def buddy_fragmentation(text: str, order: int = COSTLY_ORDER) -> float | None:
    """Share of free memory in blocks smaller than ``2**order`` pages (0 to 1).

    This is the kernel's unusable free space index for ``order``, over every zone of
    ``/proc/buddyinfo``; None when nothing is free.

    >>> buddy_fragmentation("Node 0, zone Normal 16 0 0 0 1")
    0.5
    """
    free = usable = 0
    for line in text.splitlines():
        counts = [int(c) for c in line.split()[4:]]
        for size, count in enumerate(counts):
            free += count << size
            if size > order:
                usable += count << size
    return None if free == 0 else (free - usable) / free


def _buddyinfo(proc_root: Path) -> Iterator[_Reading]:
    try:
        text = (proc_root / "buddyinfo").read_text()
    except OSError:  # not every kernel or container shows it: omit the family
        return
    fragmentation = buddy_fragmentation(text)
    if fragmentation is not None:
        yield "host.memory.fragmentation", fragmentation


def _psi(proc_root: Path) -> Iterator[_Reading]:
    for resource in ("cpu", "memory", "io"):
        try:
            text = (proc_root / "pressure" / resource).read_text()
        except OSError:  # no PSI in this kernel, or disabled (psi=0): omit the family
            continue
        for line in text.splitlines():
            kind, *fields = line.split()
            for field in fields:
                name, _, value = field.partition("=")
                if name in ("avg10", "avg60"):
                    yield f"host.psi.{resource}.{kind}_{name}", float(value)


_FAMILIES: tuple[tuple[str, _Family], ...] = (
    ("cpu times", _cpu),
    ("memory", _memory),
    ("swap", _swap),
    ("disk I/O counters", _disk_io),
    ("network counters", _net),
    ("loadavg", _load),
    ("sys/fs/file-nr", _fds),
    ("the process list", _processes),
    ("vmstat", _vmstat),
    ("buddyinfo", _buddyinfo),
    ("pressure", _psi),
)
"""What the host sensor reads each tick: a name for error messages, and the reader."""


@dataclass(frozen=True, slots=True)
class _Rate:
    """A series made from how much a counter grew since the previous tick.

    The growth is divided by the growth of ``per`` (elapsed seconds by default),
    multiplied by ``scale`` and capped at ``cap``.
    """

    series: str
    counter: str
    scale: float = 1.0
    per: str = "clock"
    cap: float = math.inf


_RATES: tuple[_Rate, ...] = (
    _Rate("host.cpu.percent", "cpu.busy", 100.0, per="cpu.total"),
    _Rate("host.cpu.iowait_percent", "cpu.iowait", 100.0, per="cpu.total"),
    _Rate("host.disk.read_bytes_per_s", "disk.read_bytes"),
    _Rate("host.disk.write_bytes_per_s", "disk.write_bytes"),
    # busy milliseconds per second, summed over disks, as a percent of one disk
    _Rate("host.disk.busy_percent", "disk.busy_ms", 0.1, cap=100.0),
    _Rate("host.net.rx_bytes_per_s", "net.rx_bytes"),
    _Rate("host.net.tx_bytes_per_s", "net.tx_bytes"),
    _Rate("host.net.errors_per_s", "net.errors"),
    _Rate("host.memory.major_faults_per_s", "vmstat.pgmajfault"),
)
"""Series computed from counters; a counter that went back (reset, wrap, a NIC
removed) yields nothing for that tick."""


class HostSensor:
    """Reads the health of the machine itself, every tick, cheaply.

    Gauges are reported as read; counters as per-second rates from the previous
    call. Disk space is per mount (label ``mount``); unreadable mounts are skipped
    and their number reported as ``host.disk.unreadable_mounts``.
    """

    name = "host"
    Config: ClassVar[type[BaseModel]] = HostSensorConfig

    def __init__(self, config: HostSensorConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or HostSensorConfig()
        self._clock: Clock = clock or SystemClock()
        self._previous: dict[str, float] = {}

    def collect(self) -> list[Sample]:
        """Read every host series now; raises SensorUnavailable if procfs cannot be read."""
        ts = self._clock.time()
        values: dict[str, float] = {"clock": self._clock.monotonic()}
        for what, family in _FAMILIES:
            try:
                values.update(family(self.config.proc_root))
            except (OSError, ValueError, psutil.Error) as exc:
                raise SensorUnavailable(f"host: cannot read {what}: {exc}") from exc
        samples = [Sample(k, v, ts) for k, v in values.items() if k.startswith("host.")]
        samples += self._rates(values, ts)
        samples += self._disks(ts)
        self._previous = values
        return samples

    def _rates(self, values: dict[str, float], ts: float) -> Iterator[Sample]:
        before = self._previous
        for rate in _RATES:
            if rate.counter in before and rate.counter in values:
                grew = values[rate.counter] - before[rate.counter]
                over = values[rate.per] - before[rate.per]
                if grew >= 0 and over > 0:
                    yield Sample(rate.series, min(grew / over * rate.scale, rate.cap), ts)

    def _disks(self, ts: float) -> list[Sample]:
        try:
            partitions = psutil.disk_partitions(all=True)
        except OSError as exc:
            raise SensorUnavailable(f"host: cannot read the mount table: {exc}") from exc
        samples: list[Sample] = []
        seen: set[str] = set()
        unreadable = 0
        for part in partitions:
            if part.fstype in self.config.exclude_fstypes or part.device in seen:
                continue
            seen.add(part.device)
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:  # counted below: an unreadable mount is a visible fact
                unreadable += 1
                continue
            labels = {"mount": part.mountpoint}
            samples.append(Sample("host.disk.used_percent", usage.percent, ts, labels=labels))
            samples.append(Sample("host.disk.free_bytes", float(usage.free), ts, labels=labels))
        samples.append(Sample("host.disk.unreadable_mounts", float(unreadable), ts))
        return samples
