"""Verify-and-rollback on measured harm: judging whether an action made its target worse.

Before a reversible action the executor measures the target (a
:class:`TargetMetrics` provider), applies and verifies the action, waits the verify
window, and measures again. When any metric got worse by more than the threshold
(direction-aware: higher latency, CPU or RSS is worse, a lower probe pass rate is
worse) the action is rolled back and the incident escalated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from setpoint.config.models import GateConfig, PlaybookConfig
from setpoint.execute.base import ActionContext


class TargetMetrics(Protocol):
    """Measures a target now: metric name -> value (names from :data:`METRICS`)."""

    async def measure(self, ctx: ActionContext) -> dict[str, float]:
        """Take the target's measurements; an empty mapping when there is nothing to take."""
        ...


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How to read one metric: its name for people, which way is worse, its noise floor.

    A change is relative to ``max(|before|, floor)``, so a tiny baseline (1 ms, 0.5 %
    CPU) cannot turn noise into a rollback.
    """

    label: str
    higher_is_worse: bool
    floor: float


METRICS: dict[str, MetricSpec] = {
    "latency_p50_s": MetricSpec("p50 latency", True, 0.005),
    "probe_ok": MetricSpec("probe pass rate", False, 1.0),
    "cpu_percent": MetricSpec("CPU", True, 5.0),
    "rss_bytes": MetricSpec("RSS", True, 16 * 2**20),
}
"""The metrics harm is judged on; others a provider returns are recorded only."""


@dataclass(frozen=True, slots=True)
class Harm:
    """The metric that got worse the most, beyond the threshold."""

    metric: str
    before: float
    after: float
    change: float
    """Relative change, signed: +0.35 is 35 % more than before."""

    def describe(self) -> str:
        """``p50 latency +35 %``.

        >>> Harm("latency_p50_s", 0.02, 0.027, 0.35).describe()
        'p50 latency +35 %'
        """
        return f"{METRICS[self.metric].label} {self.change * 100:+.0f} %"


def assess(
    before: Mapping[str, float], after: Mapping[str, float], threshold: float
) -> Harm | None:
    """The worst worsening beyond ``threshold`` among the metrics measured both times.

    >>> assess({"latency_p50_s": 0.1}, {"latency_p50_s": 0.15}, 0.2).describe()
    'p50 latency +50 %'
    >>> assess({"probe_ok": 1.0}, {"probe_ok": 0.4}, 0.2).describe()
    'probe pass rate -60 %'
    >>> assess({"cpu_percent": 80.0}, {"cpu_percent": 10.0}, 0.2) is None
    True
    """
    worst: Harm | None = None
    worst_by = threshold
    for name, spec in METRICS.items():
        if name not in before or name not in after:
            continue
        change = (after[name] - before[name]) / max(abs(before[name]), spec.floor)
        worse_by = change if spec.higher_is_worse else -change
        if worse_by > worst_by:
            worst, worst_by = Harm(name, before[name], after[name], change), worse_by
    return worst


@dataclass(frozen=True, slots=True)
class HarmPolicy:
    """How long to wait before measuring again, and how much worse is too much."""

    window: float
    threshold: float


def harm_policies(
    gate: GateConfig, playbooks: Sequence[PlaybookConfig]
) -> Callable[[str, str], HarmPolicy]:
    """A lookup (playbook, action) -> policy: the step's own settings, else the gate's.

    >>> from setpoint.config.models import ActionStep, When
    >>> pb = PlaybookConfig(name="p", when=When(symptom="x"),
    ...                     do=[ActionStep(action="process.renice", nice=5, verify_window=2)])
    >>> policy = harm_policies(GateConfig(), [pb])
    >>> policy("p", "process.renice"), policy("other", "service.restart")
    (HarmPolicy(window=2.0, threshold=0.2), HarmPolicy(window=60.0, threshold=0.2))
    """
    default = HarmPolicy(gate.verify_window, gate.harm_threshold)
    table: dict[tuple[str, str], HarmPolicy] = {}
    for playbook in playbooks:
        for step in playbook.do or ():
            table.setdefault(
                (playbook.name, step.action),
                HarmPolicy(
                    default.window if step.verify_window is None else step.verify_window,
                    default.threshold if step.harm_threshold is None else step.harm_threshold,
                ),
            )

    def lookup(playbook: str, action: str) -> HarmPolicy:
        return table.get((playbook, action), default)

    return lookup
