"""An LSTM autoencoder over windows of an entity's rows (the ``deep`` extra).

Where the nearest-neighbour distance (:mod:`.knn`) judges each row alone, the
autoencoder judges the last ``window`` rows together, so it can learn how the metrics
move over time and together, not just which combinations occur. It is trained on the
sliding windows of the training rows (min-max scaled by training, :mod:`.scaling`; at
most ``max_windows`` of them, a seeded sample) for a fixed number of epochs, so the cost
of ``fit`` is bounded by ``epochs x max_windows`` windows and the result is reproducible.

The score of row ``i`` is the reconstruction error of the newest row of the window that
ends at row ``i``, causally averaged over ``smoothing`` rows. The first rows of a block
have fewer than ``window`` rows before them; their window is padded with the block's
first row, so a score never depends on later rows nor on where earlier blocks ended.

On ASD it ranks rows worse than the plain distance (F1 0.454 against 0.500 for
:mod:`.knn`, F1-PA 0.871 against 0.809) and adds nothing to it in an ensemble; see
``docs/benchmarks.md``. torch is imported only by ``fit`` and ``score`` (through
:mod:`.lstm_net`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from setpoint.analyze.base import FloatArray
from setpoint.analyze.foveal.scaling import MinMax, causal_mean

if TYPE_CHECKING:
    from setpoint.analyze.foveal.lstm_net import Autoencoder


def windows(rows: FloatArray, length: int) -> FloatArray:
    """The window of ``length`` rows ending at each row, padded with the first row.

    A view (count x length x features) over one padded copy of the rows.

    >>> windows(np.array([[1.0], [2.0], [3.0]]), 2)[:, :, 0].tolist()
    [[1.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
    """
    padded = np.concatenate([np.repeat(rows[:1], length - 1, axis=0), rows])
    view = np.lib.stride_tricks.sliding_window_view(padded, length, axis=0)
    return np.asarray(view.transpose(0, 2, 1))


class LstmAutoencoder:
    """Reconstruction error of the newest row of each window, causally averaged.

    >>> t = np.arange(600.0)
    >>> train = np.column_stack([np.sin(t / 5), np.cos(t / 5)])
    >>> d = LstmAutoencoder(LstmAutoencoder.Config(epochs=5))
    >>> d.fit(train)
    >>> bool(d.score(train[:60] * [1.0, -1.0]).mean() > d.score(train[:60]).mean())
    True
    """

    class Config(BaseModel):
        """Window and network sizes, the training budget, smoothing and seed."""

        model_config = ConfigDict(frozen=True, extra="forbid")
        window: int = Field(16, ge=2, description="Rows per window.")
        hidden: int = Field(32, ge=1, description="LSTM state size.")
        latent: int = Field(8, ge=1, description="Size of the bottleneck vector.")
        epochs: int = Field(20, ge=1, description="Passes over the training windows.")
        max_windows: int = Field(4096, ge=1, description="Cap on training windows.")
        learning_rate: float = Field(0.01, gt=0.0)
        smoothing: int = Field(5, ge=1, description="Rows the score is averaged over.")
        seed: int = 0

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self._scaling: MinMax | None = None
        self._net: Autoencoder | None = None

    def fit(self, train: FloatArray) -> None:
        """Train the autoencoder on (a sample of) the training rows' windows.

        The windows are those :meth:`score` would see, so the padded windows of a
        block's first rows are among them.
        """
        from setpoint.analyze.foveal.lstm_net import train as train_net

        self._scaling = MinMax.fit(train)
        scaled = self._scaling.transform(train)
        every = windows(scaled, self.config.window)
        if every.shape[0] > self.config.max_windows:
            rng = np.random.default_rng(self.config.seed)
            every = every[np.sort(rng.choice(every.shape[0], self.config.max_windows, False))]
        self._net = train_net(
            every,
            hidden=self.config.hidden,
            latent=self.config.latent,
            epochs=self.config.epochs,
            learning_rate=self.config.learning_rate,
            seed=self.config.seed,
        )

    def score(self, rows: FloatArray) -> FloatArray:
        """Causally averaged reconstruction error of each row as its window's newest."""
        if self._scaling is None or self._net is None:
            raise RuntimeError("LstmAutoencoder.score before fit")
        if rows.shape[0] == 0:
            return np.zeros(0)
        from setpoint.analyze.foveal.lstm_net import last_row_errors

        scaled = self._scaling.transform(rows)
        errors = last_row_errors(self._net, windows(scaled, self.config.window))
        return causal_mean(np.sqrt(errors.sum(axis=1)), self.config.smoothing)
