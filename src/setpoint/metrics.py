"""setpoint's own Prometheus metrics, and the latest value of every series it watches.

Everything lives on one :class:`~prometheus_client.CollectorRegistry` owned by the
daemon (never the global default registry), served at ``GET /metrics``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from setpoint.model import Sample

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(series: str) -> str:
    """The Prometheus name of a series.

    >>> metric_name("host.disk.used_percent")
    'setpoint_host_disk_used_percent'
    """
    return "setpoint_" + _INVALID.sub("_", series)


class LatestSeries(Collector):
    """Exposes the last sample of every series as a gauge."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], Sample] = {}

    def update(self, samples: Iterable[Sample]) -> None:
        """Remember the newest sample of each series."""
        for sample in samples:
            self._latest[sample.ident] = sample

    def collect(self) -> Iterator[Metric]:
        """One gauge family per series name, one line per label set."""
        families: dict[str, GaugeMetricFamily] = {}
        for sample in list(self._latest.values()):
            labels = dict(sample.labels)
            if sample.entity.startswith("service:"):
                labels["service"] = sample.entity.removeprefix("service:")
            name = metric_name(sample.series)
            family = families.get(name)
            if family is None:
                family = families[name] = GaugeMetricFamily(
                    name, f"Last reading of {sample.series}", labels=sorted(labels)
                )
            family.add_metric([labels[k] for k in sorted(labels)], sample.value, sample.ts)
        yield from families.values()


class AgentMetrics:
    """The counters and gauges setpoint keeps about itself."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        self.series = LatestSeries()
        r.register(self.series)
        self.ticks = Counter("setpoint_ticks", "Loop ticks run", registry=r)
        self.tick_seconds = Histogram(
            "setpoint_tick_duration_seconds",
            "Time spent in one loop tick",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.sensor_up = Gauge(
            "setpoint_sensor_up", "1 when a sensor reads", ["sensor"], registry=r
        )
        self.symptoms = Counter(
            "setpoint_symptoms", "Symptoms by kind and state", ["kind", "state"], registry=r
        )
        self.decisions = Counter(
            "setpoint_decisions", "Decisions by gate verdict", ["verdict"], registry=r
        )
        self.outcomes = Counter(
            "setpoint_outcomes", "Outcomes of applied actions", ["outcome"], registry=r
        )
        self.incidents_open = Gauge("setpoint_incidents_open", "Open incidents", registry=r)
        self.service_up = Gauge(
            "setpoint_service_healthy", "1 when a service is healthy", ["service"], registry=r
        )
        self.series_tracked = Gauge(
            "setpoint_series_tracked", "Series under anomaly detection", registry=r
        )
        self.store_write_failures = Gauge(
            "setpoint_store_write_failures", "Store writes that failed since start", registry=r
        )
