"""The ``forecast`` section: defaults, durations, and errors named by their YAML path."""

from __future__ import annotations

import pytest

from setpoint.analyze.forecasting.keeper import Limit
from setpoint.config import parse_config
from setpoint.errors import ConfigError


def test_defaults_are_off_with_three_host_series() -> None:
    section = parse_config("version: 1\n").forecast
    assert not section.enabled and section.model == "ets"
    assert section.keeper().series == (
        ("host", "host.cpu.percent"),
        ("host", "host.memory.available_bytes"),
        ("host", "host.load1"),
    )
    policy = section.policy()
    assert policy.horizons == (3600.0, 21600.0, 86400.0) and policy.levels == (0.8, 0.95)


def test_durations_limits_and_sarima_orders_are_read() -> None:
    section = parse_config(
        "forecast:\n"
        "  enabled: true\n"
        "  model: sarima\n"
        "  bucket: 1h\n"
        "  horizons: [6h, 1d]\n"
        "  refit_every: 12h\n"
        "  limits: {host.load1: {above: 4}}\n"
        "  sarima: {order: [2, 1, 0], seasonal_order: [0, 1, 1]}\n"
    ).forecast
    policy = section.policy()
    assert policy.steps() == [6, 24] and policy.spec().season == 24
    assert policy.spec().order == (2, 1, 0) and section.refit_every == 43200.0
    assert section.keeper().limits == {("host", "host.load1"): Limit(above=4.0)}


def test_series_per_entity_with_shared_and_own_limits() -> None:
    section = parse_config(
        "services: {web: {command: [web]}, api: {command: [api]}}\n"
        "forecast:\n"
        "  series:\n"
        "    - host.load1\n"
        "    - {series: service.rss_bytes, service: web}\n"
        "    - {series: service.rss_bytes, entity: 'service:api', above: 9e8}\n"
        "    - {series: service.cpu_percent, service: api}\n"
        "    - {series: dir.used_bytes, entity: 'dir:spool', below: 1}\n"
        "  limits: {service.rss_bytes: {above: 5e8}, host.load1: {below: 0.1}}\n"
    ).forecast
    policy = section.keeper()
    assert policy.series == (
        ("host", "host.load1"),
        ("service:web", "service.rss_bytes"),
        ("service:api", "service.rss_bytes"),
        ("service:api", "service.cpu_percent"),
        ("dir:spool", "dir.used_bytes"),
    )
    assert policy.limits == {
        ("host", "host.load1"): Limit(below=0.1),
        ("service:web", "service.rss_bytes"): Limit(above=5e8),
        ("service:api", "service.rss_bytes"): Limit(above=9e8),
        ("dir:spool", "dir.used_bytes"): Limit(below=1.0),
    }


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        ("forecast: {bucket: 7m}", "forecast: season (86400s) must be a whole number"),
        ("forecast: {bucket: 10s}", "forecast.bucket: Input should be greater than or equal to 60"),
        ("forecast: {levels: [95]}", "forecast.levels: 95.0 is not a probability"),
        ("forecast: {horizons: [0]}", "forecast.horizons: every horizon must be > 0"),
        ("forecast: {limits: {host.x: {above: 1}}}", "limits name series not in `series`: host.x"),
        ("forecast: {limits: {host.load1: {}}}", "forecast.limits.host.load1: give above, below"),
        ("forecast: {breach_level: 0.9}", "breach_level 0.9 must be one of levels"),
        ("forecast: {sarima: {order: [5, 1, 1]}}", "forecast.sarima.order: each order must be"),
        ("forecast: {model: prophet}", "forecast.model: Input should be 'ets' or 'sarima'"),
        (
            "forecast: {series: [host.load1, {series: service.rss_bytes, entity: web}]}",
            "forecast.series[1].entity: 'web' is not host or KIND:NAME (e.g. service:web)",
        ),
        (
            "forecast: {series: [host.load1, {series: x, entitty: 'service:web'}]}",
            "forecast.series[1].entitty: unknown field",
        ),
        (
            "forecast: {series: [host.load1, {entity: 'service:web'}]}",
            "forecast.series[1].series: Field required",
        ),
        ("forecast: {series: [host.load1, 5]}", "forecast.series[1]: 5 is neither a series key"),
        (
            "forecast: {series: [{series: a, service: web, entity: 'service:web'}]}",
            "forecast.series[0]: give service or entity, not both",
        ),
        (
            "forecast: {series: [{series: a, entity: 'service:w'}, b, {series: a, service: w}]}",
            "forecast.series: series[0] and series[2] are both 'a' on service:w",
        ),
        (
            "forecast: {series: [{series: service.rss_bytes, entity: 'service:web'}],"
            " limits: {service.fds: {above: 1}}}",
            "limits name series not in `series`: service.fds",
        ),
    ],
)
def test_bad_values_are_named_with_their_path(yaml: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml)
    assert any(problem in p for p in caught.value.problems), caught.value.problems
