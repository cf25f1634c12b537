"""NAB's scoring, reimplemented from its README: windows, sigmoid weights, one threshold.

Per file, the first ``min(floor(0.15 n), 750)`` rows are probationary and ignored. A
detection inside a window is worth ``tpWeight`` at the window's start, falling along a
scaled sigmoid to about 0 at its end; a window counts only its best (earliest)
detection, or ``-fnWeight`` when it has none. A detection outside every window costs
``fpWeight``, less right after a window (a sigmoid of the distance in window widths).
One threshold, the one that maximises the corpus total, is chosen per profile, and the
total is normalised so a detector that never fires gets 0 and a perfect one 100.

The sweep runs once over the whole corpus sorted by score: the false-alarm part is a
cumulative sum, and only window rows need a loop (a window's best detection improves).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from setpoint.analyze.base import FloatArray


@dataclass(frozen=True)
class Profile:
    """Costs of one NAB profile."""

    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


@dataclass(frozen=True)
class ScoredFile:
    """One file's anomaly scores and its windows as inclusive (first, last) row spans."""

    scores: FloatArray
    windows: Sequence[tuple[int, int]]


@dataclass(frozen=True)
class ProfileResult:
    """The corpus score of one profile at its best threshold."""

    normalised: float
    raw: float
    threshold: float
    detected_windows: int
    false_alarms: int
    windows: int


def probationary_rows(n: int) -> int:
    """How many leading rows of an ``n``-row file are ignored.

    >>> probationary_rows(1000), probationary_rows(10000)
    (150, 750)
    """
    return min(math.floor(0.15 * n), 750)


def scaled_sigmoid(x: float) -> float:
    """NAB's ``2 * sigmoid(-5 x) - 1``, and -1 beyond 3 window widths.

    >>> round(scaled_sigmoid(-1.0), 4), scaled_sigmoid(0.0), scaled_sigmoid(3.5)
    (0.9866, 0.0, -1.0)
    """
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


_MAX_TP = scaled_sigmoid(-1.0)


def row_values(
    n: int, windows: Sequence[tuple[int, int]]
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Unweighted worth of a detection on each row, and each row's window (-1: none).

    Inside a window the worth is in (0, 1] (times tpWeight); outside it is in [-1, 0)
    (times fpWeight).
    """
    worth = np.full(n, -1.0)
    owner = np.full(n, -1, dtype=np.int64)
    prev: tuple[int, int] | None = None
    spans = sorted(windows)
    for k, (first, last) in enumerate(spans):
        start = prev[1] + 1 if prev else 0
        if prev is not None:
            width = prev[1] - prev[0] + 1
            for i in range(start, first):
                worth[i] = scaled_sigmoid(abs(prev[1] - i) / max(width - 1, 1))
        width = last - first + 1
        for i in range(first, last + 1):
            worth[i] = scaled_sigmoid(-(last - i + 1) / width) / _MAX_TP
            owner[i] = k
        prev = (first, last)
    if prev is not None:
        width = prev[1] - prev[0] + 1
        for i in range(prev[1] + 1, n):
            worth[i] = scaled_sigmoid(abs(prev[1] - i) / max(width - 1, 1))
    return worth, owner


def score_corpus(files: Sequence[ScoredFile]) -> dict[str, ProfileResult]:
    """Score every profile over the corpus at its best threshold.

    >>> never = ScoredFile(np.zeros(100), [(50, 59)])
    >>> perfect = ScoredFile(np.r_[np.zeros(50), 1.0, np.zeros(49)], [(50, 59)])
    >>> score_corpus([never])["standard"].normalised, score_corpus([perfect])["standard"].normalised
    (0.0, 100.0)
    """
    scores, worth, owner, n_windows = [], [], [], 0
    for f in files:
        w, o = row_values(f.scores.size, f.windows)
        live = slice(probationary_rows(f.scores.size), None)
        scores.append(f.scores[live])
        worth.append(w[live])
        owner.append(np.where(o[live] >= 0, o[live] + n_windows, -1))
        n_windows += len(f.windows)
    s, u, win = np.concatenate(scores), np.concatenate(worth), np.concatenate(owner)
    order = np.argsort(-s, kind="stable")
    s, u, win = s[order], u[order], win[order]
    fp_sum = np.cumsum(np.where(win < 0, u, 0.0))
    fp_count = np.cumsum(win < 0)
    tp_gain, hit_gain = np.zeros(s.size), np.zeros(s.size)
    best: dict[int, float] = {}
    for i in np.flatnonzero(win >= 0).tolist():
        k, value = int(win[i]), float(u[i])
        old = best.get(k)
        if old is None:
            best[k], tp_gain[i], hit_gain[i] = value, value, 1.0
        elif value > old:
            best[k], tp_gain[i] = value, value - old
    tp_sum, hits = np.cumsum(tp_gain), np.cumsum(hit_gain)
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1] if s.size else np.array([], int)
    out = {}
    for name, p in PROFILES.items():
        totals = p.tp * tp_sum[ends] - p.fn * (n_windows - hits[ends]) + p.fp * fp_sum[ends]
        null = -p.fn * n_windows
        pick = int(np.argmax(totals)) if ends.size else -1
        if pick < 0 or totals[pick] <= null:
            out[name] = ProfileResult(0.0, null, 1.1, 0, 0, n_windows)
            continue
        end, raw = int(ends[pick]), float(totals[pick])
        perfect = p.tp * n_windows
        out[name] = ProfileResult(
            normalised=100.0 * (raw - null) / (perfect - null),
            raw=raw,
            threshold=float(s[end]),
            detected_windows=int(hits[end]),
            false_alarms=int(fp_count[end]),
            windows=n_windows,
        )
    return out
