"""Character n-gram embedder: hashed term counts, no model, no fitting, no extra packages.

Each word is padded with spaces and cut into n-grams (3 to 5 characters by default,
scikit-learn's ``char_wb`` analyser); each n-gram is hashed (CRC-32) into one of
``dim`` buckets, counts are damped with ``log1p`` and the row is normalised. Texts
that share spellings score high; paraphrases with other words do not, so this is the
fallback for when no model is installed, not the default.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from setpoint.knowledge.embedders.base import Vectors, normalize_rows

_WORD = re.compile(r"\w+")


class CharGrams:
    """Hashed character n-gram counts as unit vectors.

    >>> e = CharGrams()
    >>> v = e.embed(["disk full on /var", "the disk is full", "nginx restarted"])
    >>> v.shape, bool(v[0] @ v[1] > v[0] @ v[2])
    ((3, 1024), True)
    """

    class Config(BaseModel):
        """Vector length and n-gram sizes."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        dim: int = Field(1024, ge=16, le=65536, description="hash buckets = vector length")
        min_n: int = Field(3, ge=1, le=10)
        max_n: int = Field(5, ge=1, le=10)

        @model_validator(mode="after")
        def _ordered(self) -> CharGrams.Config:
            if self.min_n > self.max_n:
                raise ValueError("min_n must not exceed max_n")
            return self

    def __init__(self, config: CharGrams.Config | None = None) -> None:
        self.config = config or CharGrams.Config()

    @property
    def name(self) -> str:
        """``chargram-<min_n>-<max_n>-<dim>``: the settings that make vectors comparable."""
        c = self.config
        return f"chargram-{c.min_n}-{c.max_n}-{c.dim}"

    @property
    def dim(self) -> int:
        """Length of each vector (the number of hash buckets)."""
        return self.config.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit row of damped n-gram counts per text."""
        rows = np.zeros((len(texts), self.config.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            buckets = self._buckets(text)
            if buckets:
                rows[i] = np.bincount(buckets, minlength=self.config.dim)
        return normalize_rows(np.log1p(rows))

    def _buckets(self, text: str) -> list[int]:
        c = self.config
        out: list[int] = []
        for word in _WORD.findall(text.lower()):
            padded = f" {word} ".encode()
            for n in range(c.min_n, c.max_n + 1):
                out.extend(
                    zlib.crc32(padded[j : j + n]) % c.dim for j in range(len(padded) - n + 1)
                )
        return out
