"""AnomalyWatch: excursions become one symptom each, anomalies are not learned."""

from __future__ import annotations

from setpoint.analyze.anomaly import ANOMALY, AnomalyPolicy, AnomalyWatch
from setpoint.analyze.rolling_median import RollingMedian
from setpoint.model import Sample, Severity, Symptom, SymptomState

SERIES = "host.load1"


class Rig:
    """A watch over rolling-median detectors, keeping the detectors it made."""

    def __init__(self, **policy: int) -> None:
        self.detectors: list[RollingMedian] = []
        self.watch = AnomalyWatch(self._make, AnomalyPolicy(threshold=8.0, **policy))
        self.ts = 0.0

    def _make(self) -> RollingMedian:
        self.detectors.append(RollingMedian(RollingMedian.Config(window=20, warmup=5)))
        return self.detectors[-1]

    def feed(self, values: list[float], series: str = SERIES) -> list[Symptom]:
        out = []
        for value in values:
            self.ts += 1.0
            out += self.watch.observe([Sample(series, value, self.ts)])
        return out


def quiet(n: int, level: float = 10.0) -> list[float]:
    return [level + (i % 5) * 0.5 for i in range(n)]


def test_one_excursion_fires_once_and_clears_once() -> None:
    rig = Rig(persist=3, clear_after=4)
    assert rig.feed(quiet(30)) == []

    during = rig.feed([100.0] * 5)
    after = rig.feed(quiet(20))

    [fired] = during
    assert (fired.kind, fired.state, fired.entity) == (ANOMALY, SymptomState.FIRING, "host")
    assert fired.ts == 33.0, "fires on the third anomalous tick (persist=3)"
    assert fired.severity is Severity.CRITICAL
    assert fired.evidence["series"] == SERIES and fired.evidence["value"] == 100.0
    assert fired.evidence["model"] == "RollingMedian" and fired.evidence["score"] > 16
    low, high = fired.evidence["expected_range"]
    assert low < fired.evidence["expected"] < high < 100.0
    [cleared] = after
    assert (cleared.state, cleared.clears) == (SymptomState.CLEARED, fired.id)
    assert cleared.kind == ANOMALY
    assert cleared.ts == 39.0, "clears on the fourth ordinary tick (clear_after=4)"
    assert rig.watch.firing() == []


def test_a_spike_shorter_than_persist_does_not_fire() -> None:
    rig = Rig(persist=3, clear_after=4)
    rig.feed(quiet(30))

    assert rig.feed([100.0]) == []
    assert rig.feed([*quiet(3), 100.0, 100.0, *quiet(10)]) == []
    assert rig.watch.firing() == []


def test_anomalous_points_are_not_learned() -> None:
    rig = Rig(persist=3, clear_after=4)
    rig.feed(quiet(30))
    [detector] = rig.detectors
    before = detector.get_state()

    [fired] = rig.feed([100.0] * 8)

    assert detector.get_state() == before
    assert rig.watch.firing() == [fired]


def test_a_level_shift_becomes_the_new_normal_after_relearn_after() -> None:
    rig = Rig(persist=3, clear_after=4, relearn_after=5)
    rig.feed(quiet(30))

    during = rig.feed(quiet(60, level=50.0))

    fired, cleared = during
    assert fired.state is SymptomState.FIRING
    assert (cleared.state, cleared.clears) == (SymptomState.CLEARED, fired.id)
    assert 49.0 < rig.detectors[0].expected()[0] < 52.0
    assert rig.feed(quiet(20, level=50.0)) == []


def test_without_relearning_a_level_shift_keeps_firing() -> None:
    rig = Rig(persist=3, clear_after=4, relearn_after=300)
    rig.feed(quiet(30))

    [fired] = rig.feed(quiet(60, level=50.0))

    assert rig.watch.firing() == [fired]
    assert rig.detectors[0].expected()[0] < 12.0


def test_each_series_gets_its_own_detector() -> None:
    rig = Rig(persist=2, clear_after=2)
    disks = [Sample("disk", 1.0, 0.0, labels={"mount": m}) for m in ("/", "/var")]
    rig.watch.observe([Sample(SERIES, 1.0, 0.0), *disks])
    assert len(rig.watch) == 3 and len(rig.detectors) == 3

    rig.feed(quiet(30))
    rig.feed(quiet(30), series="other")
    fired = rig.feed([100.0] * 3)

    assert [s.evidence["series"] for s in fired] == [SERIES]
    assert rig.feed([100.0] * 3, series="other")[0].evidence["series"] == "other"
    assert len(rig.watch.firing()) == 2


def test_a_moderate_excursion_is_a_warning() -> None:
    rig = Rig(persist=1, clear_after=1)
    rig.feed(quiet(30))
    median, scale = rig.detectors[0].expected()

    [fired] = rig.feed([median + 10 * scale])

    assert fired.severity is Severity.WARNING
