"""Blast radius: how much of the host, and of each service group, is in action at once.

An action is in flight from the moment the gate admits it until the executor has
verified it and waited out its harm window. Each actuator declares how far its effect
reaches (:class:`~setpoint.execute.base.Blast`), and the rules follow from it:

- at most ``max_concurrent`` actions are in flight on the host, whatever they touch;
- a host-wide action (dropping caches, compacting memory) runs alone: it waits for
  every other action to finish, and nothing starts while it runs, so no verification
  measures another action's effect;
- a group (``group:`` on services) is a set of replicas, and only actions that take a
  member out of service (blast ``service`` or wider) count against it: at most
  ``max_group_fraction`` of its members, never fewer than one, and at most
  ``max_per_group`` when that is set. Renicing or signalling one process of a replica,
  or cleaning files, leaves the replica serving and is not limited per group.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

from setpoint.config.models import BlastRadiusConfig
from setpoint.execute.base import Blast

_OUT_OF_SERVICE = frozenset({Blast.SERVICE, Blast.HOST, Blast.EXTERNAL})


class BlastRadius:
    """Counts actions in flight, overall, host-wide and per group.

    >>> blast = BlastRadius(BlastRadiusConfig(), {"service:a": "web", "service:b": "web"})
    >>> blast.enter("service:a", Blast.SERVICE); blast.refusal("service:b", Blast.SERVICE)
    'blast radius: 1 of 2 members of group web in action (at most 1 at once)'
    >>> blast.refusal("service:b", Blast.PROCESS) is None
    True
    >>> blast.refusal("host", Blast.HOST)
    'blast radius: a host-wide action runs alone; 1 action(s) in flight'
    >>> blast.leave("service:a", Blast.SERVICE); blast.refusal("service:b", Blast.SERVICE)
    """

    def __init__(self, config: BlastRadiusConfig, groups: Mapping[str, str]) -> None:
        self.config = config
        self.groups = dict(groups)
        self._flying: Counter[tuple[str, Blast]] = Counter()

    def group_cap(self, group: str) -> tuple[int, int]:
        """(members of ``group``, how many of them may be in action at once)."""
        size = sum(1 for g in self.groups.values() if g == group)
        cap = max(1, math.floor(self.config.max_group_fraction * size))
        if self.config.max_per_group is not None:
            cap = min(cap, self.config.max_per_group)
        return size, cap

    def refusal(self, target: str, blast: Blast) -> str | None:
        """Why one more action of reach ``blast`` on ``target`` would be too many now."""
        total = sum(self._flying.values())
        if total >= self.config.max_concurrent:
            return (
                f"blast radius: {total} actions in flight on this host "
                f"(at most {self.config.max_concurrent})"
            )
        if blast is Blast.HOST and total:
            return f"blast radius: a host-wide action runs alone; {total} action(s) in flight"
        if any(b is Blast.HOST for _, b in self._flying):
            return "blast radius: a host-wide action is in flight"
        group = self.groups.get(target)
        if group is None or blast not in _OUT_OF_SERVICE:
            return None
        busy = {t for t, b in self._flying if b in _OUT_OF_SERVICE and self.groups.get(t) == group}
        size, cap = self.group_cap(group)
        if target not in busy and len(busy) >= cap:
            return (
                f"blast radius: {len(busy)} of {size} members of group {group} in action "
                f"(at most {cap} at once)"
            )
        return None

    def enter(self, target: str, blast: Blast) -> None:
        """An action of reach ``blast`` on ``target`` starts."""
        self._flying[target, blast] += 1

    def leave(self, target: str, blast: Blast) -> None:
        """That action is over (verified, harm window passed)."""
        key = (target, blast)
        self._flying[key] -= 1
        if self._flying[key] <= 0:
            del self._flying[key]

    def in_flight(self) -> dict[str, int]:
        """Actions in flight per target."""
        out: Counter[str] = Counter()
        for (target, _), n in self._flying.items():
            out[target] += n
        return dict(out)
