"""Choosing one of a playbook's candidates by what their outcomes taught.

Each candidate's record for the incident's signature is a pattern with verified
``successes`` and ``failures``; its chance of healing is Beta(successes + 1,
failures + 1). Two strategies:

- ``thompson`` (default): draw one value from each candidate's posterior and take the
  largest. A candidate with little evidence draws widely, so it is still tried now and
  then; one that keeps failing draws low and is soon left alone.
- ``ucb``: take the largest ``mean + c * sqrt(ln(N + 1) / (n + 1))``, where ``n`` is
  the candidate's evidence and ``N`` all candidates' evidence: deterministic, optimistic
  about what was seldom tried.

The chosen candidate is only a proposal: it passes the safety gate like any other.
Why it was chosen (each candidate's confidence and drawn score) is kept until the
decision is recorded, and then written to the audit log by the outcome learner.

>>> import asyncio
>>> from setpoint.config.learning import LearningConfig
>>> async def nothing_known(sig): return []
>>> chooser = LearnedChooser(LearningConfig(strategy="ucb"), nothing_known)
>>> arms = [Arm("service.signal", {"signal": "SIGHUP"}, "p1", 0, 4), Arm("service.restart", {}, "p2", 3, 0)]
>>> chooser.pick(arms)[0]
1
"""  # noqa: E501

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from setpoint.config.learning import LearningConfig
from setpoint.config.models import ActionStep
from setpoint.knowledge.patterns import Pattern, beta_confidence, pattern_id, signature
from setpoint.model import Symptom

PatternsOf = Callable[[str], Awaitable[list[Pattern]]]
"""Read the patterns of one signature (after the writes queued before)."""


@dataclass(frozen=True, slots=True)
class Arm:
    """One candidate with the evidence behind it."""

    action: str
    params: dict[str, Any]
    pattern: str
    successes: float
    failures: float

    @property
    def confidence(self) -> float:
        """The posterior mean: the expected chance that this candidate heals."""
        return beta_confidence(self.successes, self.failures)


@dataclass(frozen=True, slots=True)
class Choice:
    """The candidate taken, and why: every candidate's evidence and score."""

    arm: Arm
    strategy: str
    arms: tuple[Arm, ...]
    scores: tuple[float, ...]

    def reason(self) -> dict[str, Any]:
        """The explanation kept in the audit log (``setpoint explain`` shows it)."""
        return {
            "strategy": self.strategy,
            "chosen": self.arm.action,
            "chosen_params": self.arm.params,
            "candidates": [
                {
                    "action": arm.action,
                    "params": arm.params,
                    "pattern": arm.pattern,
                    "successes": arm.successes,
                    "failures": arm.failures,
                    "confidence": round(arm.confidence, 4),
                    "score": round(score, 4),
                }
                for arm, score in zip(self.arms, self.scores, strict=True)
            ],
        }

    def summary(self) -> str:
        """One line for the log: each candidate's confidence and score."""
        parts = [
            f"{_label(a)} conf {a.confidence:.2f} score {s:.2f}"
            for a, s in zip(self.arms, self.scores, strict=True)
        ]
        return f"chose {_label(self.arm)} by {self.strategy} ({'; '.join(parts)})"


def _label(arm: Arm) -> str:
    params = " ".join(f"{k}={v}" for k, v in arm.params.items())
    return f"{arm.action} {params}".strip()


class LearnedChooser:
    """Chooses among candidates by Thompson sampling (or UCB) over their patterns."""

    def __init__(self, config: LearningConfig, patterns_of: PatternsOf) -> None:
        self.config = config
        self._patterns_of = patterns_of
        self._rng = np.random.default_rng(config.seed)
        self._reasons: dict[tuple[str, str], Choice] = {}

    def pick(self, arms: Sequence[Arm]) -> tuple[int, list[float]]:
        """The index of the arm to take and every arm's score."""
        if self.config.strategy == "thompson":
            scores = [float(self._rng.beta(a.successes + 1, a.failures + 1)) for a in arms]
        else:
            total = sum(a.successes + a.failures for a in arms)
            scores = [
                a.confidence
                + self.config.ucb_c
                * math.sqrt(math.log(total + 1) / (a.successes + a.failures + 1))
                for a in arms
            ]
        return max(range(len(arms)), key=scores.__getitem__), scores

    async def choose(
        self, playbook: str, candidates: Sequence[ActionStep], symptom: Symptom
    ) -> Choice:
        """Choose one candidate for ``symptom``; keep why until the decision is recorded."""
        sig = signature(symptom.kind, symptom.entity)
        known = {p.id: p for p in await self._patterns_of(sig)}
        arms = []
        for step in candidates:
            pid = pattern_id(sig, step.action, step.params)
            found = known.get(pid)
            s, f = (found.successes, found.failures) if found else (0.0, 0.0)
            arms.append(Arm(step.action, step.params, pid, s, f))
        index, scores = self.pick(arms)
        choice = Choice(arms[index], self.config.strategy, tuple(arms), tuple(scores))
        self._reasons[(symptom.id, playbook)] = choice
        return choice

    def take_reason(self, symptom_id: str | None, playbook: str) -> Choice | None:
        """The choice made for this symptom and playbook, once (for its decision)."""
        return self._reasons.pop((symptom_id or "", playbook), None)
