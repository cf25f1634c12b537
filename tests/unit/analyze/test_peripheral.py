"""The peripheral tier: one excursion one symptom, calibrated scores, seasons, salience."""

from __future__ import annotations

import math

from setpoint.analyze.peripheral import ANOMALY, Peripheral, PeripheralConfig, Season
from setpoint.model import Sample, Severity, SymptomState

DAY = 86_400.0


def tier(**overrides: object) -> Peripheral:
    params: dict[str, object] = {
        "warmup": 10,
        "refresh": 1,
        "persist": 3,
        "clear_after": 4,
        "seasons": (),
    }
    params.update(overrides)
    return Peripheral(PeripheralConfig.model_validate(params))


def quiet(i: int) -> float:
    return 10.0 + 0.5 * (i % 5)


def feed(p: Peripheral, values: list[float], start: float, series: str = "load", step: float = 1.0):
    out = []
    for i, v in enumerate(values):
        out += p.observe([Sample(series, v, start + i * step)])
    return out


def test_one_excursion_is_one_symptom_with_its_evidence() -> None:
    p = tier()
    assert feed(p, [quiet(i) for i in range(50)], 0.0) == []

    during = feed(p, [100.0] * 6, 50.0)
    after = feed(p, [quiet(i) for i in range(10)], 56.0)

    [fired] = during
    assert (fired.kind, fired.state, fired.ts) == (ANOMALY, SymptomState.FIRING, 52.0)
    assert fired.severity is Severity.CRITICAL
    ev = fired.evidence
    assert ev["series"] == "load" and ev["value"] == 100.0 and ev["model"] == "peripheral"
    low, high = ev["expected_range"]
    assert low < ev["expected"] < high < 100.0
    assert 0.9999 <= ev["score"] <= 1.0
    [cleared] = after
    assert (cleared.state, cleared.clears, cleared.ts) == (SymptomState.CLEARED, fired.id, 59.0)
    assert p.firing() == []


def test_a_blip_shorter_than_persist_is_not_a_symptom_and_is_not_learned() -> None:
    p = tier()
    feed(p, [quiet(i) for i in range(50)], 0.0)
    assert feed(p, [100.0, 100.0, *[quiet(i) for i in range(5)], 100.0], 50.0) == []
    median = p._median[0]
    assert 10.0 <= median <= 12.0


def test_a_lasting_shift_becomes_the_new_normal() -> None:
    p = tier(relearn_after=5, window=16)
    feed(p, [quiet(i) for i in range(50)], 0.0)
    out = feed(p, [50.0 + 0.5 * (i % 5) for i in range(60)], 50.0)
    assert [s.state for s in out] == [SymptomState.FIRING, SymptomState.CLEARED]


def test_series_are_scored_only_once_warm() -> None:
    p = tier(warmup=20, persist=1)
    assert feed(p, [*[quiet(i) for i in range(19)], 1e6], 0.0) == []
    assert p._count[0] == 20, "an unscored point is learned"


def test_non_finite_values_are_skipped() -> None:
    p = tier()
    feed(p, [quiet(i) for i in range(30)], 0.0)
    assert p.observe([Sample("load", math.nan, 30.0), Sample("load", math.inf, 30.0)]) == []
    assert p._count[0] == 30


def test_many_series_grow_the_buffer_and_keep_their_own_baselines() -> None:
    p = tier()
    for t in range(40):
        p.observe(
            [
                Sample(f"s{k}", 100.0 * k + quiet(t), float(t), entity=f"e{k % 7}")
                for k in range(200)
            ]
        )
    assert len(p) == 200
    fired = []
    for t in range(40, 44):
        batch = [
            Sample(f"s{k}", 100.0 * k + quiet(t), float(t), entity=f"e{k % 7}") for k in range(200)
        ]
        batch[150] = Sample("s150", 1e5, float(t), entity="e3")
        fired += p.observe(batch)
    assert [(s.entity, s.evidence["series"]) for s in fired] == [("e3", "s150")]
    salience = p.salience()
    assert salience["e3"] == 1.0 and max(v for e, v in salience.items() if e != "e3") < 0.9999


def test_a_burst_at_the_same_time_every_day_is_excused() -> None:
    p = tier(window=64, seasons=(Season(seconds=DAY, buckets=96),), relearn_after=1000)
    step = 900.0  # one sample per bucket

    def day(burst: bool) -> list[float]:
        return [80.0 if burst and i == 24 else quiet(i) for i in range(96)]

    fired = []
    for d in range(4):
        fired += [
            s for s in feed(p, day(True), d * DAY, step=step) if s.state is SymptomState.FIRING
        ]
    other = feed(p, [80.0 if i == 60 else quiet(i) for i in range(96)], 4 * DAY, step=step)
    assert fired == [], "persist=3 keeps a one-sample burst from firing at all"
    assert other == []

    p2 = tier(window=64, persist=1, seasons=(Season(seconds=DAY, buckets=96),))
    firings = [len(feed(p2, day(True), d * DAY, step=step)) for d in range(5)]
    assert firings[:3] == [2, 2, 2] and firings[3:] == [0, 0], "fires until two days show it"
    assert (
        len(feed(p2, [80.0 if i == 60 else quiet(i) for i in range(96)], 5 * DAY, step=step)) == 2
    )


def test_two_services_with_the_same_series_are_two_series() -> None:
    p = tier()
    for t in range(40):
        web = Sample("service.rss_bytes", 100.0 + t % 3, float(t), "service:web")
        api = Sample("service.rss_bytes", 5_000.0 + t % 3, float(t), "service:api")
        assert p.observe([web, api]) == []
    assert len(p) == 2
    fired = []
    for t in range(40, 44):
        fired += p.observe([Sample("service.rss_bytes", 900.0, float(t), "service:web")])
    assert [(s.entity, s.evidence["series"]) for s in fired] == [
        ("service:web", "service.rss_bytes")
    ]


def test_one_failed_probe_in_ten_is_not_an_anomaly_of_an_error_rate() -> None:
    """An error rate that is always 0 has no spread; its floor (0.05) gives it one."""
    config = PeripheralConfig(warmup=10, refresh=1, persist=2, seasons=())
    quiet, strict = Peripheral(config), Peripheral(config.model_copy(update={"floors": {}}))
    fired: dict[str, list[str]] = {"floor": [], "none": []}
    for t in range(120):
        rate = 0.1 if 60 <= t < 70 else 0.0
        tick = [Sample("service.probe.error_rate", rate, float(t), entity="service:web")]
        fired["floor"] += [s.kind for s in quiet.observe(tick)]
        fired["none"] += [s.kind for s in strict.observe(tick)]
    assert fired["floor"] == []
    assert "anomaly" in fired["none"], "without the floor the same blip fires"
    outage = [
        Sample("service.probe.error_rate", 1.0, 200.0 + t, entity="service:web") for t in range(3)
    ]
    assert [s.kind for t in outage for s in quiet.observe([t])] == ["anomaly"]
