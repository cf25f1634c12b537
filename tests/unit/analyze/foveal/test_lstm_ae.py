"""The LSTM autoencoder on a pair of metrics that move together, and its window padding."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from setpoint.analyze.base import FloatArray
from setpoint.analyze.checks import roc_auc
from setpoint.analyze.foveal.lstm_ae import LstmAutoencoder, windows

SMALL = LstmAutoencoder.Config(window=8, hidden=16, latent=4, epochs=20, max_windows=512)
"""Small enough to train in about a second."""


def sine_pair(rows: int, seed: int) -> FloatArray:
    """Two metrics a quarter period apart, with a little noise."""
    t = np.arange(rows) / 4.0
    noise = np.random.default_rng(seed).normal(0.0, 0.02, (rows, 2))
    return np.column_stack([np.sin(t), np.cos(t)]) + noise


def test_a_broken_relation_scores_higher_than_the_learnt_one() -> None:
    detector = LstmAutoencoder(SMALL)
    detector.fit(sine_pair(1200, seed=0))
    test = sine_pair(400, seed=1)
    labels = np.zeros(400)
    # The second metric stops following the first, within its normal range.
    test[200:240, 1] = -test[200:240, 1]
    labels[200:240] = 1.0
    scores = detector.score(test)
    assert roc_auc(scores, labels) > 0.9
    assert scores[205:240].mean() > 3 * scores[:200].mean()


def test_two_fits_from_the_same_seed_score_alike() -> None:
    train, probe = sine_pair(600, seed=2), sine_pair(50, seed=3)
    first, second = LstmAutoencoder(SMALL), LstmAutoencoder(SMALL)
    first.fit(train)
    second.fit(train)
    np.testing.assert_array_equal(first.score(probe), second.score(probe))


def test_the_first_rows_are_padded_with_the_first_row_only() -> None:
    rows = np.arange(8.0).reshape(4, 2)
    view = windows(rows, 3)
    assert view.shape == (4, 3, 2)
    assert view[0].tolist() == [[0.0, 1.0]] * 3
    assert view[3].tolist() == rows[1:].tolist()


def test_an_empty_block_and_scoring_before_fit() -> None:
    detector = LstmAutoencoder(SMALL)
    with pytest.raises(RuntimeError, match="before fit"):
        detector.score(np.zeros((1, 2)))
    detector.fit(sine_pair(100, seed=4))
    assert detector.score(np.zeros((0, 2))).shape == (0,)


def test_importing_the_detector_does_not_import_torch() -> None:
    code = "import sys, setpoint.analyze.foveal.lstm_ae; print('torch' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


def test_fitting_leaves_the_global_torch_random_state_alone() -> None:
    torch = pytest.importorskip("torch")
    before = torch.random.get_rng_state()
    LstmAutoencoder(SMALL).fit(sine_pair(100, seed=5))
    assert torch.equal(torch.random.get_rng_state(), before)
