"""The ASD layout: read entities, run a multivariate detector, read and write results.

The corpus directory holds one ``<entity>.npz`` per entity with ``train`` (rows x
features, normal operation), ``test`` and ``test_label`` (0/1 per test row). Results
are ``<results>/<entity>.csv``: the header ``score``, then one score per test row.
A detector is fitted on ``train`` and scores ``test`` in one causal batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from setpoint.analyze.base import FloatArray
from setpoint.analyze.foveal.base import MultivariateDetector
from setpoint.benchmarks.mv_score import Labels

HEADER = "score"


@dataclass(frozen=True)
class Entity:
    """One entity of the corpus."""

    name: str
    train: FloatArray
    test: FloatArray
    labels: Labels


def read_entity(path: Path) -> Entity:
    """Read ``<entity>.npz``."""
    with np.load(path) as data:
        return Entity(
            path.stem,
            np.asarray(data["train"], dtype=np.float64),
            np.asarray(data["test"], dtype=np.float64),
            np.asarray(data["test_label"], dtype=np.int_),
        )


def corpus(data: Path) -> Iterator[Entity]:
    """Every entity under ``data``, in a stable order."""
    for path in sorted(data.glob("*.npz")):
        yield read_entity(path)


def write_scores(path: Path, scores: FloatArray) -> None:
    """Write one results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER, *(repr(float(s)) for s in scores)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_scores(path: Path) -> FloatArray | None:
    """The scores of one results file, or None when its header is not ``score``."""
    lines = path.read_text(encoding="utf-8").split()
    if not lines or lines[0] != HEADER:
        return None
    return np.array([float(v) for v in lines[1:]], dtype=np.float64)


def run_corpus(
    data: Path,
    out: Path,
    make: Callable[[], MultivariateDetector],
    progress: Callable[[str], None],
) -> int:
    """Fit a fresh detector per entity on ``train``, score ``test``; return the count."""
    count = 0
    for entity in corpus(data):
        detector = make()
        detector.fit(entity.train)
        write_scores(out / f"{entity.name}.csv", detector.score(entity.test))
        progress(entity.name)
        count += 1
    return count
