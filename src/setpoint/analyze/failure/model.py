"""Train, save and load the failure model: gradient-boosted trees (XGBoost) on the dataset.

Training imports xgboost and scikit-learn (the ``ml`` extra) on first use; loading and
predicting need numpy only (:mod:`~setpoint.analyze.failure.trees`). The model is two
files in ``<data dir>/models/``: ``failure.json``, XGBoost's own JSON, and
``failure.meta.json`` (features, dataset spec, when, metrics, and the SHA-256 of the
model file, so a pair that does not belong together is refused, never half-used).

The trees are shallow and built on one thread. Failures are rare, so positives weigh
``negatives / positives`` while the trees are built (``scale_pos_weight``). That
inflates every score, so the log-odds get an offset that brings the held-out rows'
mean probability back to how often they did foresee a failure (without a usable
hold-out, the weight is simply taken back out): the probability reported estimates
P(failure within the horizon), not a balanced score.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from setpoint.analyze.failure.dataset import Dataset, DatasetSpec
from setpoint.analyze.failure.files import META_FILE, MODEL_FILE
from setpoint.analyze.failure.trees import TreeEnsemble
from setpoint.errors import KnowledgeError

FORMAT = 1
"""Version of the metadata layout."""

MIN_FAILURES = 3
"""Failures the dataset must foresee: two to learn from, at least one to test on."""

HOLDOUT = 0.25
"""Share of the failures, the latest, held out to measure AUC."""

PARAMS: Mapping[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "tree_method": "hist",
    "max_depth": 3,
    "eta": 0.1,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "nthread": 1,
    "seed": 0,
}
ROUNDS = 100


@dataclass(frozen=True, slots=True)
class Metrics:
    """What training saw and how the held-out part scored.

    ``failures`` counts the failures some positive row foresees; ``auc`` is None when
    the held-out part lacks a class; ``cpu_seconds`` is the training alone, without
    reading the dataset.
    """

    rows: int
    positives: int
    failures: int
    entities: int
    holdout_rows: int
    holdout_positives: int
    auc: float | None
    cpu_seconds: float


@dataclass(frozen=True, slots=True)
class Trained:
    """A freshly trained model: XGBoost's JSON and the metadata that goes beside it."""

    model_json: bytes
    meta: dict[str, Any]

    @property
    def metrics(self) -> Metrics:
        """The training metrics."""
        return Metrics(**self.meta["metrics"])


def train(dataset: Dataset, now: float, min_failures: int = MIN_FAILURES) -> Trained:
    """Measure AUC on the latest failures held out, then train on every row.

    Raises KnowledgeError, naming what is missing, when the dataset foresees fewer
    than ``min_failures`` failures.
    """
    if dataset.foreseen < min_failures:
        raise KnowledgeError(
            f"too few failures to train on: {dataset.foreseen} foreseen "
            f"({dataset.positives} positive rows of {len(dataset.y)}, "
            f"{len(dataset.failures)} failure incident(s) in the history); "
            f"need at least {min_failures} failures of kind "
            f"{' or '.join(dataset.spec.label_kinds)} with readings of the service before them"
        )
    started = time.process_time()
    split = _split_time(dataset)
    test = dataset.ts >= split
    auc, offset = _holdout(dataset, test)
    booster = _fit(dataset.x, dataset.y)
    metrics = Metrics(
        rows=len(dataset.y),
        positives=dataset.positives,
        failures=dataset.foreseen,
        entities=len(set(dataset.entities)),
        holdout_rows=int(test.sum()),
        holdout_positives=int(dataset.y[test].sum()),
        auc=auc,
        cpu_seconds=round(time.process_time() - started, 3),
    )
    model_json = bytes(booster.save_raw("json"))
    meta = {
        "format": FORMAT,
        "kind": "failure",
        "features": list(dataset.features),
        "trained_at": now,
        "spec": asdict(dataset.spec),
        "margin_offset": -math.log(_weight(dataset.y)) if offset is None else offset,
        "calibration": "prior" if offset is None else "holdout",
        "params": dict(PARAMS),
        "rounds": ROUNDS,
        "metrics": asdict(metrics),
        "model_sha256": hashlib.sha256(model_json).hexdigest(),
    }
    return Trained(model_json, meta)


def _weight(y: NDArray[np.int8]) -> float:
    """``scale_pos_weight``: negatives per positive."""
    positives = int(y.sum())
    return max(1.0, (len(y) - positives) / max(positives, 1))


def _split_time(dataset: Dataset) -> float:
    """Rows from this time on are held out: the last quarter of the foreseen failures."""
    foreseen = {i for i in dataset.incident if i}
    starts = sorted(f.ts for f in dataset.failures if f.incident_id in foreseen)
    held = max(1, round(HOLDOUT * len(starts)))
    return starts[-held] - dataset.spec.horizon


def _fit(x: NDArray[np.float64], y: NDArray[np.int8]) -> Any:
    import xgboost

    matrix = xgboost.DMatrix(x, label=y, missing=np.nan)
    params = {**PARAMS, "scale_pos_weight": _weight(y)}
    return xgboost.train(params, matrix, num_boost_round=ROUNDS)


def _holdout(dataset: Dataset, test: NDArray[np.bool_]) -> tuple[float | None, float | None]:
    """AUC on the held-out rows of a model fitted on the rows before them, and an offset.

    The offset is what the log-odds need so that the held-out rows' mean probability
    is the share of them that did foresee a failure (calibration in the large): the
    weight given to positives while training inflates every score. Both are None when
    either part lacks a class.
    """
    train_y, test_y = dataset.y[~test], dataset.y[test]
    if len(set(train_y.tolist())) < 2 or len(set(test_y.tolist())) < 2:
        return None, None
    from sklearn.metrics import roc_auc_score

    held_out = TreeEnsemble.from_xgboost(
        json.loads(_fit(dataset.x[~test], train_y).save_raw("json"))
    )
    margin = held_out.margin(dataset.x[test])
    auc = round(float(roc_auc_score(test_y, margin)), 4)
    return auc, round(_offset(margin, float(test_y.mean())), 4)


def _offset(margin: NDArray[np.float64], rate: float) -> float:
    """The shift of ``margin`` whose mean probability is ``rate``, by bisection.

    >>> round(_offset(np.zeros(4), 0.75), 3), round(_offset(np.zeros(4), 0.25), 3)
    (1.099, -1.099)
    """
    low, high = -50.0, 50.0
    for _ in range(60):  # the mean probability rises with the shift: halve the bracket
        middle = (low + high) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(margin + middle)))) < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def save(trained: Trained, directory: Path) -> Path:
    """Write the model and its metadata into ``directory``; return the model's path.

    Each file is written whole and renamed into place; the metadata goes last and
    names the model's checksum, so a reader never pairs it with another model.
    """
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    _replace(model_path, trained.model_json)
    _replace(directory / META_FILE, json.dumps(trained.meta, indent=2).encode())
    return model_path


def _replace(path: Path, data: bytes) -> None:
    part = path.with_name(f".{path.name}.part")
    part.write_bytes(data)
    os.replace(part, path)


@dataclass(frozen=True, slots=True)
class FailureModel:
    """A loaded failure model: probabilities and the features behind them, numpy only.

    ``features`` are the columns it was trained on; ``columns`` says where each one is
    in a row of this version's features, so a model trained before features were
    added reads its own columns and ignores the new ones.
    """

    trees: TreeEnsemble
    features: tuple[str, ...]
    spec: DatasetSpec
    trained_at: float
    margin_offset: float
    metrics: Mapping[str, Any]
    path: Path
    columns: NDArray[np.intp]

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(failure within the horizon) of each row (rows of this version's features)."""
        margin = self.trees.margin(x[:, self.columns])
        return 1.0 / (1.0 + np.exp(-(margin + self.margin_offset)))

    def top_features(self, row: NDArray[np.float64], n: int = 3) -> list[dict[str, Any]]:
        """The ``n`` features that raised this row's risk most, with values and log-odds."""
        own = row[self.columns]
        credit = self.trees.contributions(own.reshape(1, -1))[0, :-1]
        best = [int(i) for i in np.argsort(-credit)[:n] if credit[i] > 0]
        return [
            {
                "feature": self.features[i],
                "value": None if math.isnan(own[i]) else round(float(own[i]), 4),
                "contribution": round(float(credit[i]), 4),
            }
            for i in best
        ]


def load(directory: Path, features: tuple[str, ...]) -> FailureModel:
    """Load the model in ``directory``; KnowledgeError naming the file when it is unusable.

    ``features`` are the columns this version of setpoint computes. A model trained on
    some of them (an older version's, before features were added) is used on those; one
    that needs a column not computed any more is refused (train again).
    """
    meta_path, model_path = directory / META_FILE, directory / MODEL_FILE
    meta = _read_json(meta_path)
    raw = _read_bytes(model_path)
    try:
        if meta.get("format") != FORMAT or meta.get("kind") != "failure":
            raise ValueError(f"not failure model metadata of format {FORMAT}")
        if meta["model_sha256"] != hashlib.sha256(raw).hexdigest():
            raise ValueError(f"it does not describe {model_path.name} (saved apart?)")
        trained_on = tuple(str(f) for f in meta["features"])
        unknown = [f for f in trained_on if f not in features]
        if unknown:
            raise ValueError(f"trained on features not computed any more: {', '.join(unknown)}")
        columns = np.array([features.index(f) for f in trained_on], dtype=np.intp)
        spec = meta["spec"]
        loaded_spec = DatasetSpec(
            float(spec["window"]),
            float(spec["horizon"]),
            float(spec["step"]),
            float(spec["history"]),
            tuple(spec["label_kinds"]),
        )
        trained_at, offset = float(meta["trained_at"]), float(meta["margin_offset"])
        metrics = dict(meta["metrics"])
    except (KeyError, TypeError, ValueError) as exc:
        raise KnowledgeError(f"{meta_path}: unusable ({exc}); train again") from exc
    try:
        trees = TreeEnsemble.from_xgboost(json.loads(raw))
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise KnowledgeError(f"{model_path}: unusable ({exc}); train again") from exc
    if trees.n_features != len(trained_on):
        raise KnowledgeError(
            f"{model_path}: has {trees.n_features} features, not the {len(trained_on)} of"
            f" {meta_path.name}"
        )
    return FailureModel(
        trees, trained_on, loaded_spec, trained_at, offset, metrics, model_path, columns
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(_read_bytes(path))
    except ValueError as exc:
        raise KnowledgeError(f"{path}: not JSON ({exc}); train again") from exc
    if not isinstance(doc, dict):
        raise KnowledgeError(f"{path}: not a JSON object; train again")
    return doc
