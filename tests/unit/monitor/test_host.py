from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError

from setpoint.clock import ManualClock
from setpoint.errors import SensorUnavailable
from setpoint.model import Sample
from setpoint.monitor.host import HostSensor, HostSensorConfig

GAUGES = {
    "host.memory.used_percent",
    "host.memory.available_bytes",
    "host.swap.used_percent",
    "host.load1",
    "host.load5",
    "host.load15",
    "host.fds.open",
    "host.fds.max",
    "host.processes.count",
    "host.disk.unreadable_mounts",
}
DISK_RATES = {
    "host.disk.read_bytes_per_s",
    "host.disk.write_bytes_per_s",
    "host.disk.busy_percent",
}
RATES = DISK_RATES | {
    "host.cpu.percent",
    "host.cpu.iowait_percent",
    "host.net.rx_bytes_per_s",
    "host.net.tx_bytes_per_s",
    "host.net.errors_per_s",
    "host.memory.major_faults_per_s",
}
PERCENTS = {
    "host.memory.used_percent",
    "host.swap.used_percent",
    "host.cpu.percent",
    "host.cpu.iowait_percent",
    "host.disk.busy_percent",
    "host.disk.used_percent",
}


def by_key(samples: list[Sample]) -> dict[str, float]:
    return {s.key: s.value for s in samples}


def collect_until_cpu_ticks(sensor: HostSensor) -> list[Sample]:
    """Collect again once the kernel's CPU counters have moved (bounded to 2 s)."""
    deadline = time.monotonic() + 2.0
    while True:
        time.sleep(0.02)
        samples = sensor.collect()
        if any(s.series == "host.cpu.percent" for s in samples) or time.monotonic() > deadline:
            return samples


def test_real_host_reports_gauges_with_plausible_values() -> None:
    samples = HostSensor().collect()
    values = by_key(samples)

    assert values.keys() >= GAUGES
    assert not RATES & values.keys(), "the first collect has no previous tick to rate against"
    assert {s.entity for s in samples} == {"host"}
    for sample in samples:
        if sample.series in PERCENTS:
            assert 0.0 <= sample.value <= 100.0, sample
    assert values["host.memory.available_bytes"] > 0
    assert 0 < values["host.fds.open"] <= values["host.fds.max"]
    assert values["host.processes.count"] >= 1
    assert values["host.load1"] >= 0


def test_real_host_reports_disk_space_per_mount() -> None:
    samples = HostSensor().collect()
    used = [s for s in samples if s.series == "host.disk.used_percent"]
    free = [s for s in samples if s.series == "host.disk.free_bytes"]

    assert used, "the test host has at least one real filesystem"
    assert {s.labels["mount"] for s in used} == {s.labels["mount"] for s in free}
    assert len({s.key for s in used}) == len(used), "one series per mount"
    assert all(s.value >= 0 for s in free)


def test_second_collect_yields_rates() -> None:
    sensor = HostSensor()
    sensor.collect()
    samples = collect_until_cpu_ticks(sensor)
    values = by_key(samples)

    assert values.keys() >= RATES - DISK_RATES
    if psutil.disk_io_counters() is not None:  # a container may show no block device
        assert values.keys() >= DISK_RATES
    assert all(values[name] >= 0 for name in RATES & values.keys())
    assert 0.0 <= values["host.cpu.percent"] <= 100.0


def test_default_config_watches_overlay_but_not_memory_filesystems() -> None:
    config = HostSensorConfig()

    assert "overlay" not in config.exclude_fstypes
    assert {"tmpfs", "proc", "sysfs", "cgroup2", "squashfs"} <= config.exclude_fstypes
    assert config.proc_root == Path("/proc")
    with pytest.raises(ValidationError):
        HostSensorConfig(proc_roots="/tmp")  # type: ignore[call-arg]
    assert HostSensor.Config is HostSensorConfig


PSI = {
    "cpu": "some avg10=1.50 avg60=0.75 avg300=0.10 total=123\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    "memory": "some avg10=12.25 avg60=3.00 avg300=1.00 total=456\n"
    "full avg10=8.50 avg60=2.00 avg300=0.50 total=400\n",
    "io": "some avg10=4.00 avg60=1.00 avg300=0.25 total=789\n"
    "full avg10=3.00 avg60=0.50 avg300=0.10 total=700\n",
}


def write_vmstat(root: Path, pgmajfault: int) -> None:
    (root / "vmstat").write_text(f"pgfault 99999\npgmajfault {pgmajfault}\npgrefill 0\n")


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    """A minimal procfs tree: what the host sensor reads under proc_root itself."""
    (tmp_path / "loadavg").write_text("0.50 1.25 2.00 3/456 7890\n")
    (tmp_path / "sys/fs").mkdir(parents=True)
    (tmp_path / "sys/fs/file-nr").write_text("2048\t0\t65536\n")
    write_vmstat(tmp_path, 100)
    (tmp_path / "pressure").mkdir()
    for resource, text in PSI.items():
        (tmp_path / "pressure" / resource).write_text(text)
    for name in ("1", "42", "4242", "self", "sys", "net"):
        (tmp_path / name).mkdir(exist_ok=True)
    return tmp_path


def test_fake_proc_tree_gives_load_fds_processes_and_pressure(fake_proc: Path) -> None:
    values = by_key(HostSensor(HostSensorConfig(proc_root=fake_proc)).collect())

    assert (values["host.load1"], values["host.load5"], values["host.load15"]) == (
        0.5,
        1.25,
        2.0,
    )
    assert values["host.fds.open"] == 2048
    assert values["host.fds.max"] == 65536
    assert values["host.processes.count"] == 3
    assert values["host.psi.cpu.some_avg10"] == 1.5
    assert values["host.psi.cpu.some_avg60"] == 0.75
    assert values["host.psi.memory.some_avg10"] == 12.25
    assert values["host.psi.memory.full_avg10"] == 8.5
    assert values["host.psi.io.full_avg60"] == 0.5
    assert not any("avg300" in k or "total" in k for k in values)


def test_major_faults_become_a_rate_over_the_clock(fake_proc: Path) -> None:
    clock = ManualClock(1000.0)
    sensor = HostSensor(HostSensorConfig(proc_root=fake_proc), clock=clock)
    first = sensor.collect()
    clock.advance(2.0)
    write_vmstat(fake_proc, 160)
    second = sensor.collect()

    assert "host.memory.major_faults_per_s" not in by_key(first)
    assert by_key(second)["host.memory.major_faults_per_s"] == 30.0
    assert {s.ts for s in second} == {1002.0}


def test_missing_psi_omits_only_that_family(fake_proc: Path) -> None:
    (fake_proc / "pressure" / "io").unlink()
    values = by_key(HostSensor(HostSensorConfig(proc_root=fake_proc)).collect())
    assert "host.psi.memory.some_avg10" in values
    assert not any(k.startswith("host.psi.io.") for k in values)

    for resource in ("cpu", "memory"):
        (fake_proc / "pressure" / resource).unlink()
    values = by_key(HostSensor(HostSensorConfig(proc_root=fake_proc)).collect())
    assert not any(k.startswith("host.psi.") for k in values)
    assert values.keys() >= GAUGES


def test_unreadable_procfs_raises_sensor_unavailable_naming_the_file(fake_proc: Path) -> None:
    (fake_proc / "sys/fs/file-nr").unlink()
    with pytest.raises(SensorUnavailable, match="file-nr") as info:
        HostSensor(HostSensorConfig(proc_root=fake_proc)).collect()
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_garbled_procfs_raises_sensor_unavailable(fake_proc: Path) -> None:
    (fake_proc / "loadavg").write_text("not numbers\n")
    with pytest.raises(SensorUnavailable, match="loadavg"):
        HostSensor(HostSensorConfig(proc_root=fake_proc)).collect()


def test_excluded_fstypes_are_left_out() -> None:
    fstype = {p.mountpoint: p.fstype for p in psutil.disk_partitions(all=True)}

    def mounts(config: HostSensorConfig) -> set[str]:
        samples = HostSensor(config).collect()
        return {s.labels["mount"] for s in samples if s.series == "host.disk.used_percent"}

    default = HostSensorConfig()
    assert not {fstype[m] for m in mounts(default)} & default.exclude_fstypes
    assert "/proc" in mounts(HostSensorConfig(exclude_fstypes=frozenset()))
