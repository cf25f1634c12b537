"""The Numenta Anomaly Benchmark layout: read its corpus, run a detector, write results.

The corpus directory holds ``data/<category>/<file>.csv`` (``timestamp,value``) and
``combined_windows.json``; results go to ``<out>/<detector>/<category>/
<detector>_<file>.csv`` with ``timestamp,value,anomaly_score,label``, NAB's official
format. The detector runs causally, prequentially: each row is scored, then learned.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from setpoint.analyze.base import VALUE, Detector, FloatArray
from setpoint.analyze.daily import TIME


@dataclass(frozen=True)
class Series:
    """One NAB data file: its name (``<category>/<file>.csv``), times and values."""

    name: str
    timestamps: list[str]
    times: npt.NDArray[np.datetime64]
    values: FloatArray

    @property
    def category(self) -> str:
        """The category folder the file lives in."""
        return self.name.split("/")[0]


def read_series(path: Path, name: str) -> Series:
    """Read one ``timestamp,value`` CSV."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    stamps = [r["timestamp"] for r in rows]
    return Series(
        name,
        stamps,
        np.array(stamps, dtype="datetime64[s]"),
        np.array([float(r["value"]) for r in rows]),
    )


def corpus(data: Path) -> Iterator[Series]:
    """Every series of the corpus at ``data``, in a stable order."""
    for path in sorted((data / "data").glob("*/*.csv")):
        yield read_series(path, f"{path.parent.name}/{path.name}")


def read_scores(path: Path) -> FloatArray | None:
    """The ``anomaly_score`` column of a results file, or None when it has none."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    try:
        return np.array([float(r["anomaly_score"]) for r in rows])
    except (KeyError, TypeError, ValueError):
        return None


def read_windows(data: Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """The labelled anomaly windows per file, as (start, end) times."""
    raw = json.loads((data / "combined_windows.json").read_text())
    return {
        name: [(np.datetime64(s[:19]), np.datetime64(e[:19])) for s, e in spans]
        for name, spans in raw.items()
    }


def window_rows(
    times: npt.NDArray[np.datetime64], start: np.datetime64, end: np.datetime64
) -> tuple[int, int]:
    """First and last row index of the window [start, end] (inclusive)."""
    first = int(np.searchsorted(times, start, side="left"))
    last = int(np.searchsorted(times, end, side="right")) - 1
    return first, last


def run_detector(detector: Detector, series: Series) -> FloatArray:
    """Score every row, then learn it; scores mapped onto [0, 1) by ``s / (1 + s)``.

    The map is monotone, so NAB's corpus-wide threshold sweep ranks rows exactly as
    the detector's own scores do.

    >>> from setpoint.analyze.rolling_median import RollingMedian
    >>> s = Series("c/f.csv", [], np.arange(40).astype("datetime64[s]"), np.r_[np.ones(39), 9.0])
    >>> scores = run_detector(RollingMedian(RollingMedian.Config(window=20, warmup=5)), s)
    >>> float(scores[:39].max()), bool(scores[39] > 0.99)
    (0.0, True)
    """
    epoch = series.times.astype("datetime64[s]").astype(np.int64).astype(np.float64)
    out = np.empty(series.values.size)
    for i, (t, v) in enumerate(zip(epoch.tolist(), series.values.tolist(), strict=True)):
        x = {VALUE: v, TIME: t}
        s = detector.score_one(x)
        detector.learn_one(x)
        out[i] = s / (1.0 + s)
    return out


def write_results(
    out: Path, detector: str, series: Series, scores: FloatArray, labels: FloatArray
) -> Path:
    """Write one file in NAB's results format; return its path."""
    folder = out / detector / series.category
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{detector}_{series.name.split('/')[1]}"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value", "anomaly_score", "label"])
        for row in zip(
            series.timestamps, series.values.tolist(), scores.tolist(), labels.tolist(), strict=True
        ):
            w.writerow([row[0], repr(row[1]), f"{row[2]:.10f}", int(row[3])])
    return path


def labels_for(series: Series, windows: list[tuple[np.datetime64, np.datetime64]]) -> FloatArray:
    """1 for rows inside a labelled window, else 0."""
    labels = np.zeros(series.values.size)
    for start, end in windows:
        first, last = window_rows(series.times, start, end)
        labels[first : last + 1] = 1.0
    return labels


def run_corpus(
    data: Path, out: Path, name: str, make: Callable[[], Detector], progress: Callable[[str], None]
) -> int:
    """Run a fresh detector over every file of the corpus; return how many files."""
    windows = read_windows(data)
    count = 0
    for series in corpus(data):
        scores = run_detector(make(), series)
        write_results(out, name, series, scores, labels_for(series, windows.get(series.name, [])))
        progress(series.name)
        count += 1
    return count
