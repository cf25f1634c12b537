"""The network behind :mod:`.lstm_ae`: an LSTM autoencoder over windows of rows, in torch.

Kept apart from the detector so that registering or configuring the detector does not
import torch; only fitting does. Training runs in float32 on one thread from a fixed
seed (the same rows give the same network); the trained network is kept in float64, so
the error of a window does not depend on how many windows are scored with it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from setpoint.analyze.base import FloatArray

BATCH = 64
"""Windows per training step."""

CHUNK = 4096
"""Windows per scoring pass, which bounds the memory scoring needs."""


class Autoencoder(nn.Module):
    """Encode a window into one small vector, then decode the whole window back from it.

    The bottleneck (``latent`` numbers for ``window x features`` inputs) forces the
    network to learn how the metrics move together over time; windows that break
    those relations come back badly.
    """

    def __init__(self, features: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.encoder = nn.LSTM(features, hidden, batch_first=True)
        self.to_latent = nn.Linear(hidden, latent)
        self.decoder = nn.LSTM(latent, hidden, batch_first=True)
        self.to_rows = nn.Linear(hidden, features)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``windows`` (batch x window x features)."""
        _, (state, _) = self.encoder(windows)
        latent = self.to_latent(state[-1])
        repeated = latent.unsqueeze(1).expand(-1, windows.shape[1], -1)
        decoded, _ = self.decoder(repeated)
        rows: torch.Tensor = self.to_rows(decoded)
        return rows


def train(
    windows: FloatArray,
    *,
    hidden: int,
    latent: int,
    epochs: int,
    learning_rate: float,
    seed: int,
) -> Autoencoder:
    """An autoencoder fitted to ``windows`` (count x window x features), in float64.

    Adam on the mean squared error, ``epochs`` passes over the windows in seeded random
    batches; the global torch random state is left as it was.
    """
    torch.set_num_threads(1)
    data = torch.tensor(windows, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Autoencoder(windows.shape[2], hidden, latent)
        optimiser = torch.optim.Adam(net.parameters(), lr=learning_rate)
        order = torch.Generator().manual_seed(seed)
        net.train()
        for _ in range(epochs):
            for batch in torch.split(torch.randperm(data.shape[0], generator=order), BATCH):
                optimiser.zero_grad()
                loss = nn.functional.mse_loss(net(data[batch]), data[batch])
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
    return net.double().eval()


def last_row_errors(net: Autoencoder, windows: FloatArray) -> FloatArray:
    """Per window, the squared reconstruction error of each feature in its last row.

    Returns ``count x features``; the last row is the newest one, so the error is about
    the row the window ends at.
    """
    torch.set_num_threads(1)
    errors = np.empty((windows.shape[0], windows.shape[2]))
    with torch.no_grad():
        for start in range(0, windows.shape[0], CHUNK):
            chunk = torch.tensor(windows[start : start + CHUNK], dtype=torch.float64)
            residual = net(chunk)[:, -1, :] - chunk[:, -1, :]
            errors[start : start + CHUNK] = (residual**2).numpy()
    return errors
