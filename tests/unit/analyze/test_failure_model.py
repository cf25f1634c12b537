"""Training the failure model on a synthetic history in a real SQLite store, and loading it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from setpoint.analyze.failure.dataset import Dataset, DatasetSpec, build
from setpoint.analyze.failure.features import FEATURE_NAMES
from setpoint.analyze.failure.files import META_FILE, MODEL_FILE
from setpoint.analyze.failure.model import load, save, train
from setpoint.analyze.failure.predict import Assessor
from setpoint.errors import KnowledgeError
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.open import open_store
from tests.unit.analyze.failure_history import (
    END,
    FLAT,
    LEAKY,
    new_climb,
    standard_history,
    write_history,
)

xgboost = pytest.importorskip("xgboost", reason="training needs the ml extra")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KnowledgeStore, Path]]:
    directory = tmp_path_factory.mktemp("failure")
    with open_store(None, directory) as store:
        standard_history(store)
        save(train(build(store, DatasetSpec(), END), END), directory / "models")
        yield store, directory / "models"


def dataset(store: KnowledgeStore) -> Dataset:
    return build(store, DatasetSpec(), END)


def test_training_scores_well_above_chance_on_failures_it_never_saw(
    trained: tuple[KnowledgeStore, Path],
) -> None:
    _, models = trained
    meta = json.loads((models / META_FILE).read_text())
    metrics = meta["metrics"]
    assert metrics["auc"] > 0.8
    assert metrics["failures"] >= 8 and metrics["holdout_positives"] > 0
    assert metrics["entities"] == 3 and metrics["rows"] > metrics["positives"] > 0
    assert meta["features"] == list(FEATURE_NAMES) and meta["trained_at"] == END
    assert json.loads((models / MODEL_FILE).read_text())["learner"]["objective"]


def test_risk_is_high_while_memory_climbs_and_low_while_flat(
    trained: tuple[KnowledgeStore, Path],
) -> None:
    store, models = trained
    model = load(models, FEATURE_NAMES)
    fails_at = new_climb(store, END)  # after training: not in the dataset
    climbing = {a.entity: a for a in Assessor(model).assess(store, fails_at - 300.0)}
    assert climbing[LEAKY].probability > 0.7
    assert "rss_trend" in [f["feature"] for f in climbing[LEAKY].top], climbing[LEAKY]
    for entity in FLAT:
        assert climbing[entity].probability < 0.1
    calm = {a.entity: a for a in Assessor(model).assess(store, END + 1500.0)}
    assert set(calm) == {LEAKY, *FLAT}
    assert max(a.probability for a in calm.values()) < 0.2


def test_numpy_evaluation_matches_xgboost(trained: tuple[KnowledgeStore, Path]) -> None:
    store, models = trained
    model = load(models, FEATURE_NAMES)
    booster = xgboost.Booster(model_file=str(models / MODEL_FILE))
    x = dataset(store).x[:500]
    matrix = xgboost.DMatrix(x, missing=np.nan)
    margin = booster.predict(matrix, output_margin=True)
    assert np.allclose(model.trees.margin(x), margin, atol=1e-5)
    contribs = booster.predict(matrix, pred_contribs=True, approx_contribs=True)
    assert np.allclose(model.trees.contributions(x), contribs, atol=1e-5)


def test_too_few_failures_is_a_clear_error(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        write_history(store, END - 86400.0, END, every=60.0, failures=[END - 40000.0])
        with pytest.raises(KnowledgeError, match=r"1 foreseen .* need at least 3 failures"):
            train(dataset(store), END)


def test_a_corrupt_model_is_refused_by_name_and_nothing_else_is_lost(
    trained: tuple[KnowledgeStore, Path], tmp_path: Path
) -> None:
    store, models = trained
    copy = tmp_path / "models"
    copy.mkdir()
    meta = (models / META_FILE).read_text()
    (copy / META_FILE).write_text(meta)
    (copy / MODEL_FILE).write_text('{"learner": ')
    with pytest.raises(KnowledgeError, match=f"{copy / META_FILE}: unusable .*saved apart"):
        load(copy, FEATURE_NAMES)
    broken = json.loads(meta)
    broken["model_sha256"] = hashlib.sha256(b'{"learner": ').hexdigest()
    (copy / META_FILE).write_text(json.dumps(broken))
    with pytest.raises(KnowledgeError, match=f"{copy / MODEL_FILE}: unusable"):
        load(copy, FEATURE_NAMES)
    (copy / META_FILE).write_text("not json")
    with pytest.raises(KnowledgeError, match=f"{copy / META_FILE}: not JSON"):
        load(copy, FEATURE_NAMES)
    with pytest.raises(KnowledgeError, match=r"not computed any more: failures_24h\); train again"):
        load(models, FEATURE_NAMES[:-1])
    assert load(models, FEATURE_NAMES).trees.n_features == len(FEATURE_NAMES)
    assert store.incidents.list(limit=1000) and store.samples.query(limit=1)


def test_a_model_trained_before_the_probe_features_still_predicts(
    trained: tuple[KnowledgeStore, Path], tmp_path: Path
) -> None:
    """An older version's model names fewer columns: it reads its own by name."""
    store, _ = trained
    full = dataset(store)
    probe = {"latency_median", "latency_trend", "error_rate", "error_rate_trend"}
    keep = [i for i, name in enumerate(FEATURE_NAMES) if name not in probe]
    old = dataclasses.replace(
        full, x=full.x[:, keep], features=tuple(FEATURE_NAMES[i] for i in keep)
    )
    save(train(old, END), tmp_path)
    model = load(tmp_path, FEATURE_NAMES)
    assert model.features == old.features and model.trees.n_features == len(keep)
    margin = model.trees.margin(old.x[:200])
    expected = 1 / (1 + np.exp(-(margin + model.margin_offset)))
    assert np.allclose(model.predict(full.x[:200]), expected)
    found = Assessor(model).assess(store, END)
    assert {a.entity for a in found} == {LEAKY, *FLAT}
    assert not probe & {f["feature"] for a in found for f in a.top}
