"""Was each OOM prediction borne out? The ledger that settles them.

A firing ``memory.oom_predicted`` becomes a pending :class:`Prediction` (its id is the
symptom's) whose window runs to the end of the ETA interval plus ``slack``. OOM kills
are heard two ways: the kernel's ``oom_kill`` counter in ``/proc/vmstat``
(``host.memory.oom_kills``) rising, and a service exiting by SIGKILL; a kill settles
the pending predictions whose window holds it (of the killed service's entity or
domain when known) as ``confirmed``, or is stored as ``unpredicted``. A decision
carried out on a prediction settles it as ``averted``; a window that passes quietly,
as ``false_alarm``. A SIGKILL exit counts as an OOM kill only where the counter is
missing, or when it rose within ``pair_within`` seconds: a ``kill -9`` by hand is not one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from setpoint.analyze.crash import OOM_PREDICTED
from setpoint.knowledge.predictions import Prediction, PredictionOutcome
from setpoint.model import HOST, Decision, Symptom, SymptomState, VerdictStatus, new_id


class PredictionLedger:
    """Pending predictions, the kills heard, and how each prediction ended.

    >>> saved = []
    >>> ledger = PredictionLedger(saved.append)
    >>> fired = Symptom(OOM_PREDICTED, "service:leaky", 100.0,
    ...                 evidence={"eta_s": 30.0, "eta_interval_s": [25.0, 40.0],
    ...                           "domain": "cgroup:/b", "risk": "WARNING", "confidence": 0.8})
    >>> ledger.on_symptom(fired)
    >>> ledger.oom_counter(0.0, 101.0); ledger.oom_counter(1.0, 128.0)
    >>> [p.outcome.value for p in ledger.settle(133.0)]
    ['confirmed']
    """

    def __init__(
        self, save: Callable[[Prediction], object], slack: float = 10.0, pair_within: float = 5.0
    ) -> None:
        self._save = save
        self.slack = slack
        self.pair_within = pair_within
        self.pending: dict[str, Prediction] = {}
        self._counter: float | None = None
        self._kills: list[float] = []
        self._exits: list[tuple[float, str]] = []

    def load(self, pending: list[Prediction]) -> None:
        """Take over predictions a previous run left pending."""
        self.pending.update((p.id, p) for p in pending)

    def on_symptom(self, symptom: Symptom) -> None:
        """Record a new prediction, or a service's SIGKILL exit."""
        if symptom.state is not SymptomState.FIRING:
            return
        if symptom.kind == OOM_PREDICTED:
            self._predicted(symptom)
        elif symptom.kind == "service.down" and symptom.evidence.get("returncode") == -9:
            self._exits.append((symptom.ts, symptom.entity))

    def _predicted(self, symptom: Symptom) -> None:
        e = symptom.evidence
        eta = float(e.get("eta_s") or 0.0)
        low, high = e.get("eta_interval_s") or (eta, None)
        reach = float(high) if high is not None else 2 * eta
        prediction = Prediction(
            id=symptom.id,
            ts=symptom.ts,
            entity=symptom.entity,
            domain=str(e.get("domain", HOST)),
            risk=str(e.get("risk", "")),
            confidence=float(e.get("confidence") or 0.0),
            eta=eta,
            eta_low=float(low if low is not None else eta),
            eta_high=None if high is None else float(high),
            deadline=symptom.ts + max(reach, eta) + self.slack,
            evidence=dict(e),
        )
        self.pending[prediction.id] = prediction
        self._save(prediction)

    def on_decision(self, decision: Decision) -> None:
        """A decision carried out on a prediction averts it."""
        prediction = self.pending.get(decision.symptom_id or "")
        if prediction is not None and decision.verdict.status is VerdictStatus.EXECUTE:
            self._settle(prediction, PredictionOutcome.AVERTED, decision.ts)

    def oom_counter(self, value: float, ts: float) -> None:
        """Take a reading of the kernel's running count of OOM kills."""
        if self._counter is not None and value > self._counter:
            self._kills.extend([ts] * int(value - self._counter))
        self._counter = value

    def settle(self, now: float) -> list[Prediction]:
        """Settle what can be settled by ``now``; return the predictions settled."""
        settled: list[Prediction] = []
        ready = now - self.pair_within
        for ts in [t for t in self._kills if t <= ready]:
            self._kills.remove(ts)
            near = [e for e in self._exits if abs(e[0] - ts) <= self.pair_within]
            for exit_ in near[:1]:
                self._exits.remove(exit_)
            settled += self._kill(ts, near[0][1] if near else None)
        for ts, entity in [e for e in self._exits if e[0] <= ready]:
            self._exits.remove((ts, entity))
            if self._counter is None:  # no counter here: the exit is all we have
                settled += self._kill(ts, entity)
        for prediction in list(self.pending.values()):
            if prediction.deadline < now:
                settled.append(self._settle(prediction, PredictionOutcome.FALSE_ALARM, now))
        return settled

    def _kill(self, ts: float, entity: str | None) -> list[Prediction]:
        hits = [
            p
            for p in self.pending.values()
            if p.ts <= ts <= p.deadline and (entity is None or p.entity in (entity, HOST))
        ]
        if not hits:
            missed = Prediction(
                new_id(), ts, entity or HOST, "", "", 0.0, 0.0, 0.0, None, ts,
                PredictionOutcome.UNPREDICTED, ts,
            )  # fmt: skip
            self._save(missed)
            return [missed]
        return [self._settle(p, PredictionOutcome.CONFIRMED, ts) for p in hits]

    def _settle(self, prediction: Prediction, outcome: PredictionOutcome, ts: float) -> Prediction:
        self.pending.pop(prediction.id, None)
        done = replace(prediction, outcome=outcome, outcome_ts=ts)
        self._save(done)
        return done
