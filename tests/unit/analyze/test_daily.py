"""The daily profile: its bucket width from the sampling step, bounded memory, its state."""

from __future__ import annotations

import json

from setpoint.analyze.daily import DAY, DailyProfile


def fill(p: DailyProfile, days: int, step: float, value: float = 1.0) -> None:
    t = 0.0
    while t < days * DAY:
        p.learn(value + (t % DAY) / DAY, t)
        t += step


def test_nothing_is_expected_before_a_day_has_passed() -> None:
    p = DailyProfile(days=3)
    fill(p, 1, 300.0)
    assert p.expected(0.5 * DAY) is None
    assert p.expected(DAY + 0.5 * DAY) is not None


def test_the_same_phase_of_the_previous_days_is_expected() -> None:
    p = DailyProfile(days=3)
    fill(p, 3, 300.0)
    expected = p.expected(3 * DAY + 0.25 * DAY)
    assert expected is not None and abs(expected - 1.25) < 0.01


def test_series_sampled_too_coarsely_get_no_profile() -> None:
    p = DailyProfile(days=3)
    fill(p, 60, DAY / 2)
    assert p.expected(60 * DAY) is None


def test_memory_holds_a_bounded_number_of_days() -> None:
    p = DailyProfile(days=2)
    fill(p, 30, 3_600.0)
    assert len(p.get_state()["sums"]) <= 3 * 24


def test_state_round_trip() -> None:
    p = DailyProfile(days=3)
    fill(p, 4, 600.0)
    q = DailyProfile(days=3)
    q.set_state(json.loads(json.dumps(p.get_state())))
    assert q.get_state() == p.get_state()
    assert q.expected(4 * DAY + 100.0) == p.expected(4 * DAY + 100.0)
