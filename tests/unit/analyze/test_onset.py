"""The onset detector: spikes stand out, a routine daily wave does not, time of day counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from setpoint.analyze.base import VALUE
from setpoint.analyze.daily import TIME
from setpoint.analyze.onset import Onset, calibrated
from setpoint.errors import KnowledgeError

STEP = 300.0
DAY = 288  # 5-minute samples


def wave(days: int, seed: int = 0) -> np.ndarray:
    """A noisy daily sine, 5-minute samples."""
    t = np.arange(days * DAY)
    noise = np.random.default_rng(seed).normal(0, 1, t.size)
    return 50.0 + 20.0 * np.sin(2 * np.pi * t / DAY) + noise


def feed(d: Onset, values: np.ndarray, with_time: bool = True, start: int = 0) -> np.ndarray:
    out = []
    for i, v in enumerate(values.tolist(), start):
        x = {VALUE: v, TIME: 1.7e9 + i * STEP} if with_time else {VALUE: v}
        out.append(d.score_one(x))
        d.learn_one(x)
    return np.array(out)


def test_a_routine_daily_wave_scores_low() -> None:
    scores = feed(Onset(), wave(8))[3 * DAY :]
    assert scores.max() < 8.0
    assert np.count_nonzero(scores) <= 10


def test_a_spike_is_reported_at_its_onset_far_above_the_routine() -> None:
    values = wave(8)
    spike = 6 * DAY + 100
    values[spike] += 15.0
    scores = feed(Onset(), values)
    routine = np.delete(scores[3 * DAY :], spike - 3 * DAY)
    assert scores[spike] > 50.0 > 5 * routine.max()


def test_a_level_shift_is_reported_at_its_onset_and_then_falls_silent() -> None:
    values = 10.0 + np.random.default_rng(1).normal(0, 1, 1000)
    values[700:] += 20.0
    scores = feed(Onset(), values, with_time=False)
    assert scores[700] > 100.0 > 10 * scores[300:700].max()
    again = np.flatnonzero(scores[701:]) + 701  # only while the shift window turns over
    assert again.max() < 700 + Onset.Config().shift + 5
    assert scores[750:].max() == 0.0


def test_a_small_sustained_shift_is_found_by_the_shift_expert() -> None:
    values = 10.0 + np.random.default_rng(4).normal(0, 1, 1200)
    values[900:] += 1.5  # within the noise point by point
    scores = feed(Onset(), values, with_time=False)
    without = feed(Onset(Onset.Config(shift=0)), values, with_time=False)
    routine = max(scores[300:900].max(), without[900:].max())
    assert scores[900 : 900 + Onset.Config().shift + 8].max() > 2 * routine


def test_a_spike_is_reported_once() -> None:
    values = 10.0 + np.random.default_rng(0).normal(0, 1, 1500)
    values[1000] += 12.0
    scores = feed(Onset(), values, with_time=False)
    assert scores[1000] > 5 * scores[300:1000].max()
    assert scores[1001:1400].max() == 0.0


def test_a_repeated_pattern_is_not_alarmed_again() -> None:
    values = 10.0 + np.random.default_rng(0).normal(0, 1, 6000)
    starts = range(600, 6000, 600)
    for start in starts:  # a routine job: +5 for 100 samples every 600
        values[start : start + 100] += 5.0
    scores = feed(Onset(), values, with_time=False)
    first, later = scores[600:700].max(), [scores[s : s + 100].max() for s in starts][2:]
    assert first > 10 * max(later)
    assert max(later) < 2 * np.log(Onset.Config().history)  # what routine reaches


def test_a_shift_of_one_value_is_refused() -> None:
    with pytest.raises(ValueError, match="shift must be 0"):
        Onset.Config(shift=1)


def test_a_value_wrong_for_the_time_of_day_is_seen_only_with_time() -> None:
    values = wave(8)
    flat = slice(6 * DAY, 6 * DAY + DAY // 2)  # the day's peak never comes
    values[flat] = 50.0 + np.random.default_rng(5).normal(0, 1, DAY // 2)
    with_time = feed(Onset(), values)
    without = feed(Onset(), values, with_time=False)
    assert with_time[flat].max() > 10 * with_time[3 * DAY : 6 * DAY].max()
    assert without[flat].max() <= without[3 * DAY : 6 * DAY].max()


def test_state_round_trip_continues_identically() -> None:
    values = wave(5, seed=3)
    d = Onset()
    feed(d, values[: 3 * DAY])
    restored = Onset()
    restored.set_state(json.loads(json.dumps(d.get_state())))
    rest = values[3 * DAY :]
    assert feed(restored, rest, start=3 * DAY).tolist() == feed(d, rest, start=3 * DAY).tolist()


def test_state_of_another_version_is_refused() -> None:
    with pytest.raises(KnowledgeError, match="onset state version"):
        Onset().set_state({"version": 99})


def test_calibration_keeps_a_record_gaussian_and_caps_the_routine() -> None:
    assert calibrated(6.0, 1.0) == 18.0
    assert calibrated(6.0, 0.999) < -np.log(0.001) < calibrated(6.0, 1.0)
