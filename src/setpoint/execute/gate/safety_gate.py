"""The safety gate: every rule an action must pass, asked in one place.

:meth:`SafetyGate.judge` answers with a :class:`~setpoint.model.Verdict` value and
never raises: a refusal is a normal, audited outcome. The rules, in the order they
are asked:

1. the kill switch (``paused``);
2. the mode: observe stops here, before even a preview;
3. hard limits on the parameters (``constraint:<action>.<param>``), so a dry run
   says truthfully that the real run would be refused;
4. dry-run and approve stop here (an approved decision is judged again with
   ``approved=True``: approval lifts the mode, never the limits below);
5. the restart budget per target (``budget``: escalate to a human);
6. the flap backoff per target and action (``backoff``);
7. the token bucket of the action's risk class (``rate``);
8. the blast radius, by how far the actuator declares its effect reaches: overall,
   host-wide actions alone, out-of-service actions per group (``blast-radius``).

The executor waits out what is only a matter of time (cooldown, backoff, a rate token,
a blast-radius slot; :meth:`wait_before`, :meth:`blast_refusal`) before it asks, so a
transient limit delays a remediation instead of dropping it.

:meth:`admit` then spends what an allowed action uses (budget, token, flap streak,
a blast-radius slot) before the first ``await``, so two actions cannot both take the
last slot; :meth:`release` gives the slot back when the action is over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from setpoint.clock import Clock
from setpoint.config.models import GateConfig
from setpoint.execute.base import Blast, Risk
from setpoint.execute.gate.blast import BlastRadius
from setpoint.execute.gate.budget import TargetBudget
from setpoint.execute.gate.constraints import HostFacts, Limit, check_limits, effective_limits
from setpoint.execute.gate.flap import FlapDetector
from setpoint.execute.gate.modes import resolve_mode
from setpoint.execute.gate.pause import KillSwitch
from setpoint.execute.gate.rate import RateLimits
from setpoint.model import GateMode, Verdict, VerdictStatus

_HELD = {
    GateMode.OBSERVE: (VerdictStatus.OBSERVE, "nothing is previewed or applied"),
    GateMode.DRY_RUN: (VerdictStatus.DRY_RUN, "previewed, not applied"),
    GateMode.APPROVE: (VerdictStatus.PENDING_APPROVAL, "waiting for a human"),
}


@dataclass(frozen=True, slots=True)
class Permit:
    """An admitted action, holding its blast-radius slot until released."""

    action: str
    target: str
    risk: Risk
    blast: Blast


class SafetyGate:
    """Judges each proposed action against every rule of the gate.

    >>> from setpoint.clock import ManualClock
    >>> gate = SafetyGate(GateMode.AUTO, GateConfig(), ManualClock(0))
    >>> for _ in range(3):
    ...     gate.record("service:web")
    >>> gate.judge("service.restart", "service:web", Risk.DISRUPTIVE).status.value
    'escalate'
    """

    def __init__(
        self,
        mode: GateMode,
        config: GateConfig,
        clock: Clock,
        switch: KillSwitch | None = None,
        groups: Mapping[str, str] | None = None,
        host: HostFacts | None = None,
    ) -> None:
        self.mode = mode
        self.config = config
        self.clock = clock
        self.switch = switch
        self.host = host
        self.budget = TargetBudget(config, clock)
        self.rates = RateLimits(config.rate_limits, clock)
        self.flap = FlapDetector(config.flap, clock)
        self.blast = BlastRadius(config.blast_radius, groups or {})

    def limits_for(self, action: str, declared: Sequence[Limit]) -> list[Limit]:
        """The hard limits on ``action``: its declared ones, as the config replaces them."""
        return effective_limits(declared, self.config.limits.get(action, {}))

    def judge(
        self,
        action: str,
        target: str,
        risk: Risk,
        *,
        blast: Blast = Blast.SERVICE,
        params: object = None,
        limits: Sequence[Limit] = (),
        approved: bool = False,
    ) -> Verdict:
        """The verdict for ``action`` (reaching ``blast``) with ``params`` on ``target`` now."""
        paused = self.switch.state() if self.switch is not None else None
        choice = resolve_mode(self.mode, self.config, action, risk)
        mode = choice.mode
        if paused is not None:
            return Verdict(VerdictStatus.REFUSED, mode, paused.describe(), "paused")
        if mode is GateMode.OBSERVE:
            return self._held(mode, choice.describe())
        found = self.limits_for(action, limits)
        if found:
            host = self.host or HostFacts.read()
            violation = check_limits(action, params, found, host)
            if violation is not None:
                rule = f"constraint:{violation.constraint}"
                return Verdict(VerdictStatus.REFUSED, mode, violation.reason, rule)
        if mode is GateMode.DRY_RUN or (mode is GateMode.APPROVE and not approved):
            return self._held(mode, choice.describe())
        prefix = choice.describe() + ("; approved" if approved else "")
        return self._limits(action, target, risk, blast, mode, prefix)

    @staticmethod
    def _held(mode: GateMode, described: str) -> Verdict:
        status, why = _HELD[mode]
        return Verdict(status, mode, f"{described}: {why}", "mode")

    def _limits(
        self, action: str, target: str, risk: Risk, blast: Blast, mode: GateMode, prefix: str
    ) -> Verdict:
        """Budget, backoff, rate and blast radius, for an action that may otherwise run."""
        if risk is not Risk.SAFE:
            exhausted = self.budget.exhausted(target, risk.value)
            if exhausted is not None:
                return Verdict(VerdictStatus.ESCALATE, mode, exhausted, "budget")
        wait, streak = self.flap.backoff(target, action)
        if wait > 0:
            reason = (
                f"backoff: {action} on {target} ran {streak} times in a row; "
                f"{wait:.1f}s of backoff left"
            )
            return Verdict(VerdictStatus.REFUSED, mode, reason, "backoff")
        refused = self.rates.refusal(risk)
        if refused is not None:
            return Verdict(VerdictStatus.REFUSED, mode, refused, "rate")
        refused = self.blast.refusal(target, blast)
        if refused is not None:
            return Verdict(VerdictStatus.REFUSED, mode, refused, "blast-radius")
        if risk is Risk.SAFE:
            return Verdict(VerdictStatus.EXECUTE, mode, f"{prefix}; {action} is safe")
        count = self.config.restart_budget.count
        used = self.budget.used(target)
        reason = f"{prefix}; {risk.value} action {used + 1} of {count} allowed"
        return Verdict(VerdictStatus.EXECUTE, mode, reason)

    def wait_before(self, action: str, target: str, risk: Risk | None = None) -> tuple[float, str]:
        """Seconds the executor should wait before asking, and why.

        The target's cooldown, the action's flap backoff and, given the action's
        ``risk``, the time until its rate limit has a token: waiting these out instead
        of being refused keeps a transient limit from dropping a remediation. Nothing
        is waited for while the budget is spent: the verdict will escalate.
        """
        if self.budget.exhausted(target, "") is not None:
            return 0.0, ""
        waits = [
            (self.budget.cooldown(target), "cooldown"),
            (self.flap.backoff(target, action)[0], "backoff"),
        ]
        if risk is not None:
            waits.append((self.rates.wait(risk), "rate"))
        return max(waits, key=lambda w: w[0])

    def blast_refusal(self, target: str, blast: Blast) -> str | None:
        """Why an action of reach ``blast`` on ``target`` must wait for others to end."""
        return self.blast.refusal(target, blast)

    def cooldown_remaining(self, target: str) -> float:
        """Seconds until the target's cooldown after its last action ends."""
        return self.budget.cooldown(target)

    def record(self, target: str) -> None:
        """Count an action applied to ``target`` against its budget and cooldown."""
        self.budget.record(target)

    def admit(self, action: str, target: str, risk: Risk, blast: Blast = Blast.SERVICE) -> Permit:
        """Spend what an allowed action uses; call right after an EXECUTE verdict."""
        self.budget.record(target)
        self.rates.take(risk)
        self.flap.record(target, action)
        self.blast.enter(target, blast)
        return Permit(action, target, risk, blast)

    def release(self, permit: Permit) -> None:
        """The admitted action is over: give back its blast-radius slot."""
        self.blast.leave(permit.target, permit.blast)

    def status(self) -> dict[str, Any]:
        """The gate's state for ``GET /status``."""
        paused = self.switch.state() if self.switch is not None else None
        return {
            "paused": paused is not None,
            "paused_since": paused.since if paused else None,
            "paused_by": paused.by if paused else None,
            "pause_reason": paused.reason if paused else None,
            "in_flight": sum(self.blast.in_flight().values()),
            "rate_tokens": self.rates.status(),
        }
