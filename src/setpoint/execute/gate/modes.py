"""Which mode an action runs in: global, per risk class and per action.

Precedence, in order:

1. ``setpoint pause`` refuses everything (see :mod:`setpoint.execute.gate.pause`).
2. An action named in ``gate.mode_by_action`` runs in that mode, whatever the global
   mode and its risk class say: naming one action is the most specific thing an
   operator can write, so it may loosen as well as tighten.
3. Any other action runs in the more cautious of the global ``mode`` and its risk
   class's ``gate.mode_by_risk`` entry.

Caution goes observe > dry-run > approve > auto.
"""

from __future__ import annotations

from dataclasses import dataclass

from setpoint.config.models import GateConfig
from setpoint.execute.base import Risk
from setpoint.model import GateMode

CAUTION: tuple[GateMode, ...] = (
    GateMode.AUTO,
    GateMode.APPROVE,
    GateMode.DRY_RUN,
    GateMode.OBSERVE,
)
"""Modes from the least to the most cautious."""


def most_cautious(*modes: GateMode) -> GateMode:
    """The most cautious of ``modes``.

    >>> most_cautious(GateMode.AUTO, GateMode.APPROVE).value
    'approve'
    >>> most_cautious(GateMode.DRY_RUN, GateMode.APPROVE).value
    'dry-run'
    """
    return max(modes, key=CAUTION.index)


@dataclass(frozen=True, slots=True)
class ModeChoice:
    """The mode an action gets and the setting that chose it (for the verdict's reason)."""

    mode: GateMode
    source: str

    def describe(self) -> str:
        """``mode is auto``, naming the setting when it is not the global mode.

        >>> ModeChoice(GateMode.APPROVE, "mode_by_risk destructive").describe()
        'mode is approve (mode_by_risk destructive)'
        """
        suffix = "" if self.source == "mode" else f" ({self.source})"
        return f"mode is {self.mode.value}{suffix}"


def resolve_mode(global_mode: GateMode, config: GateConfig, action: str, risk: Risk) -> ModeChoice:
    """The mode for ``action`` of class ``risk``, by the precedence above.

    >>> cfg = GateConfig(mode_by_risk={"destructive": "approve"},
    ...                  mode_by_action={"service.restart": "auto"})
    >>> resolve_mode(GateMode.AUTO, cfg, "disk.delete", Risk.DESTRUCTIVE).describe()
    'mode is approve (mode_by_risk destructive)'
    >>> resolve_mode(GateMode.DRY_RUN, cfg, "service.restart", Risk.DISRUPTIVE).describe()
    'mode is auto (mode_by_action service.restart)'
    >>> resolve_mode(GateMode.OBSERVE, cfg, "disk.delete", Risk.DESTRUCTIVE).describe()
    'mode is observe'
    """
    by_action = config.mode_by_action.get(action)
    if by_action is not None:
        return ModeChoice(by_action, f"mode_by_action {action}")
    by_risk = config.mode_by_risk.get(risk.value)
    if by_risk is not None and most_cautious(global_mode, by_risk) is not global_mode:
        return ModeChoice(by_risk, f"mode_by_risk {risk.value}")
    return ModeChoice(global_mode, "mode")
