"""The excursion detector: onsets only, its own calibration, its state."""

from __future__ import annotations

import numpy as np
import pytest

from setpoint.analyze.base import VALUE
from setpoint.analyze.excursion import Excursion
from setpoint.errors import KnowledgeError


def run(values: np.ndarray, **params: int) -> np.ndarray:
    d = Excursion(Excursion.Config(warmup=50, window=100, history=200, quiet=60, **params))
    out = []
    for v in values.tolist():
        out.append(d.score_one({VALUE: v}))
        d.learn_one({VALUE: v})
    return np.array(out)


def test_a_level_shift_is_reported_once_at_its_onset() -> None:
    values = 10 + np.random.default_rng(1).normal(0, 1, 400)
    values[300:] += 20
    scores = run(values)
    assert int(np.argmax(scores)) == 300
    assert scores[301:360].max() == 0.0
    assert scores[300] > 0.99 and scores[300] > scores[:300].max()


def test_a_noisy_series_calibrates_against_its_own_routine() -> None:
    rng = np.random.default_rng(2)
    heavy = 10 + rng.standard_t(2, 2000)
    assert (run(heavy) > 0.99).sum() <= 0.02 * heavy.size


def test_state_of_another_version_is_refused() -> None:
    with pytest.raises(KnowledgeError, match="excursion state version"):
        Excursion().set_state({"version": 99})
