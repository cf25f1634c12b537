"""Contracts of the analyze stage.

A detector follows river's streaming contract: the loop scores an observation before
it learns from it (prequential), ``score_one`` changes nothing, ``learn_one`` returns
nothing, and the caller skips ``learn_one`` for points judged anomalous so an ongoing
incident does not become the new normal.
"""

from __future__ import annotations

from typing import Any, Protocol


class Detector(Protocol):
    """Streaming anomaly detector for one series.

    ``score_one`` returns how unusual ``x`` is: 0 means ordinary, and it is 0 during
    the first ``warmup`` observations. The scale is per detector.
    """

    warmup: int

    def learn_one(self, x: float) -> None:
        """Take ``x`` into the baseline."""
        ...

    def score_one(self, x: float) -> float:
        """How unusual ``x`` is against the baseline; pure."""
        ...

    def get_state(self) -> dict[str, Any]:
        """A versioned JSON-serialisable snapshot of what was learned."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""
        ...
