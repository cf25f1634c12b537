"""Hard limits on actuator parameters, declared by actuators and enforced by the gate.

An actuator lists its :class:`Limit` values in a ``limits`` class attribute; the
operator may replace any of them per action and parameter (``gate.limits``). The gate
refuses an action whose validated parameters break a limit and names the limit in the
verdict, so the audit log says which constraint refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import psutil

from setpoint.config.models import LimitConfig


class Scale(StrEnum):
    """What a limit's bounds are measured in."""

    ABSOLUTE = "absolute"
    HOST_MEMORY = "host_memory"
    HOST_CPUS = "host_cpus"


@dataclass(frozen=True, slots=True)
class HostFacts:
    """The sizes relative limits are fractions of."""

    memory_bytes: float
    cpus: int

    @classmethod
    def read(cls) -> HostFacts:
        """Read the total memory and CPU count.

        >>> HostFacts.read().cpus >= 1
        True
        """
        return cls(float(psutil.virtual_memory().total), psutil.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Limit:
    """A bound on one parameter: ``min <= value <= max``, in units of ``scale``.

    >>> Limit("memory_bytes", max=0.9, scale=Scale.HOST_MEMORY).describe(HostFacts(1000, 2))
    'memory_bytes <= 900 (0.9 of host memory)'
    """

    param: str
    min: float | None = None
    max: float | None = None
    scale: Scale = Scale.ABSOLUTE

    def _factor(self, host: HostFacts) -> float:
        if self.scale is Scale.HOST_MEMORY:
            return host.memory_bytes
        if self.scale is Scale.HOST_CPUS:
            return float(host.cpus)
        return 1.0

    def describe(self, host: HostFacts) -> str:
        """The limit as people read it, with relative bounds worked out."""
        factor = self._factor(host)
        parts = []
        if self.min is not None:
            parts.append(f"{self.param} >= {self.min * factor:g}")
        if self.max is not None:
            parts.append(f"{self.param} <= {self.max * factor:g}")
        text = " and ".join(parts) or f"{self.param} unbounded"
        if self.scale is not Scale.ABSOLUTE:
            bound = self.max if self.max is not None else self.min
            text += f" ({bound:g} of {self.scale.value.replace('_', ' ')})"
        return text

    def broken_by(self, value: float, host: HostFacts) -> bool:
        """True when ``value`` is outside the bounds."""
        factor = self._factor(host)
        too_low = self.min is not None and value < self.min * factor
        return too_low or (self.max is not None and value > self.max * factor)


@dataclass(frozen=True, slots=True)
class Violation:
    """Which limit an action broke, for the verdict and the audit log."""

    constraint: str
    reason: str


def effective_limits(
    declared: Sequence[Limit], configured: Mapping[str, LimitConfig]
) -> list[Limit]:
    """The declared limits, each replaced by the operator's for the same parameter.

    >>> [l.min for l in effective_limits([Limit("nice", min=-10)], {"nice": LimitConfig(min=0)})]
    [0.0]
    """
    by_param = {limit.param: limit for limit in declared}
    for param, cfg in configured.items():
        by_param[param] = Limit(param, cfg.min, cfg.max, Scale(cfg.scale))
    return list(by_param.values())


def _value(params: object, name: str) -> object:
    if isinstance(params, Mapping):
        return params.get(name)
    return getattr(params, name, None)


def check_limits(
    action: str, params: object, limits: Sequence[Limit], host: HostFacts
) -> Violation | None:
    """The first limit the parameters break, or None; unset parameters pass.

    >>> check_limits("x", {"nice": -15}, [Limit("nice", min=-10)], HostFacts(1, 1)).reason
    'constraint x.nice >= -10: nice is -15'
    """
    for limit in limits:
        value = _value(params, limit.param)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if limit.broken_by(float(value), host):
            return Violation(
                f"{action}.{limit.param}",
                f"constraint {action}.{limit.describe(host)}: {limit.param} is {value:g}",
            )
    return None
