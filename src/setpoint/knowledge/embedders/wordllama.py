"""WordLlama: the default embedder, a 16 MB token-embedding model shipped inside its wheel.

No torch and no download: the weights and tokenizer are read from the installed
``wordllama`` package folder with downloads disabled, so a missing file is an error,
never a network call. The model (about 45 MiB in memory) loads on the first ``embed``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from setpoint.errors import PluginError
from setpoint.knowledge.embedders.base import Vectors, normalize_rows

_MODEL = "l2_supercat"
_FULL_DIM = 256


class WordLlamaEmbedder:
    """Average-pooled WordLlama token embeddings as unit vectors.

    >>> e = WordLlamaEmbedder()
    >>> e.name, e.dim
    ('wordllama-l2_supercat-256', 256)
    """

    class Config(BaseModel):
        """Vector length: 256, or fewer leading (Matryoshka) dimensions to save space."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        dim: int = Field(_FULL_DIM, ge=64, le=_FULL_DIM)
        batch_size: int = Field(64, ge=1, le=4096)

    def __init__(self, config: WordLlamaEmbedder.Config | None = None) -> None:
        self.config = config or WordLlamaEmbedder.Config()
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """``wordllama-l2_supercat-<dim>``."""
        return f"wordllama-{_MODEL}-{self.config.dim}"

    @property
    def dim(self) -> int:
        """Length of each vector."""
        return self.config.dim

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import wordllama
                except ImportError as exc:
                    raise PluginError(
                        "embedder 'wordllama' needs the wordllama package (pip install wordllama)"
                    ) from exc
                trunc = self.config.dim if self.config.dim < _FULL_DIM else None
                try:
                    self._model = wordllama.WordLlama.load(
                        config=_MODEL,
                        cache_dir=Path(wordllama.__file__).parent,
                        dim=_FULL_DIM,
                        trunc_dim=trunc,
                        disable_download=True,
                    )
                except (FileNotFoundError, ValueError) as exc:
                    raise PluginError(
                        f"embedder 'wordllama': cannot load its model: {exc}"
                    ) from exc
            return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text; loads the model on first use."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        # normalize_rows, not wordllama's norm=True, which divides by zero on an empty text.
        rows = model.embed(list(texts), norm=False, batch_size=self.config.batch_size)
        return normalize_rows(rows)
