"""Blast radius: how much of the host, and of each service group, is in action at once.

An action is in flight from the moment the gate admits it until the executor has
verified it and waited out its harm window. A group (``group:`` on services) is a set
of replicas; at most ``max_group_fraction`` of its members, and never fewer than
one, may be in action together, and at most ``max_per_group`` when that is set.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

from setpoint.config.models import BlastRadiusConfig


class BlastRadius:
    """Counts actions in flight, overall and per group.

    >>> blast = BlastRadius(BlastRadiusConfig(), {"service:a": "web", "service:b": "web"})
    >>> blast.enter("service:a"); blast.refusal("service:b")
    'blast radius: 1 of 2 members of group web in action (at most 1 at once)'
    >>> blast.leave("service:a"); blast.refusal("service:b") is None
    True
    """

    def __init__(self, config: BlastRadiusConfig, groups: Mapping[str, str]) -> None:
        self.config = config
        self.groups = dict(groups)
        self._flying: Counter[str] = Counter()

    def group_cap(self, group: str) -> tuple[int, int]:
        """(members of ``group``, how many of them may be in action at once)."""
        size = sum(1 for g in self.groups.values() if g == group)
        cap = max(1, math.floor(self.config.max_group_fraction * size))
        if self.config.max_per_group is not None:
            cap = min(cap, self.config.max_per_group)
        return size, cap

    def refusal(self, target: str) -> str | None:
        """Why one more action on ``target`` would be too many now, or None."""
        total = sum(self._flying.values())
        if total >= self.config.max_concurrent:
            return (
                f"blast radius: {total} actions in flight on this host "
                f"(at most {self.config.max_concurrent})"
            )
        group = self.groups.get(target)
        if group is None:
            return None
        busy = sum(1 for t, n in self._flying.items() if n and self.groups.get(t) == group)
        size, cap = self.group_cap(group)
        if target not in self._flying and busy >= cap:
            return (
                f"blast radius: {busy} of {size} members of group {group} in action "
                f"(at most {cap} at once)"
            )
        return None

    def enter(self, target: str) -> None:
        """An action on ``target`` starts."""
        self._flying[target] += 1

    def leave(self, target: str) -> None:
        """An action on ``target`` is over (verified, harm window passed)."""
        self._flying[target] -= 1
        if self._flying[target] <= 0:
            del self._flying[target]

    def in_flight(self) -> dict[str, int]:
        """Actions in flight per target."""
        return dict(self._flying)
