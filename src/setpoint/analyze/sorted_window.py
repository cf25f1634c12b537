"""A bounded window kept both in arrival order and sorted, for O(log n) ranks and quantiles.

Each push costs one bisect insert (and one removal when full); median, quartiles and
the rank of a value are read from the sorted copy without sorting again.
"""

from __future__ import annotations

import bisect
from collections import deque

_IQR_TO_SIGMA = 1.349


class SortedWindow:
    """The last ``size`` values, with robust z-scores and ranks against them.

    >>> w = SortedWindow(4)
    >>> for v in [1.0, 2.0, 3.0, 4.0, 5.0]:
    ...     w.push(v)
    >>> list(w.order), w.rank(4.0), w.z(8.0, floor=0.0) > 3
    ([2.0, 3.0, 4.0, 5.0], 0.5, True)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[float] = deque()
        self.sorted: list[float] = []

    def __len__(self) -> int:
        return len(self.sorted)

    def push(self, x: float) -> None:
        """Add ``x``, dropping the oldest value when full."""
        if len(self.order) == self.size:
            del self.sorted[bisect.bisect_left(self.sorted, self.order.popleft())]
        self.order.append(x)
        bisect.insort(self.sorted, x)

    def rank(self, x: float) -> float:
        """Share of the window strictly below ``x`` (0 when empty)."""
        return bisect.bisect_left(self.sorted, x) / len(self.sorted) if self.sorted else 0.0

    def z(self, x: float, floor: float) -> float:
        """``|x - median|`` in units of IQR / 1.349, the scale floored at ``floor * |median|``.

        The window must not be empty.
        """
        s, n = self.sorted, len(self.sorted)
        median = 0.5 * (s[(n - 1) // 2] + s[n // 2])
        iqr = s[(3 * n) // 4] - s[n // 4]
        scale = max(iqr / _IQR_TO_SIGMA, floor * abs(median), 1e-9)
        return abs(x - median) / scale

    def load(self, values: list[float]) -> None:
        """Replace the content with ``values`` in arrival order (the newest ``size``)."""
        self.order = deque(values[-self.size :])
        self.sorted = sorted(self.order)
