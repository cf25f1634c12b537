"""The OOM predictor on synthetic memory: leaks predicted and attributed by growth."""

from __future__ import annotations

from pathlib import Path

from setpoint.analyze.crash import OOM_PREDICTED, CrashPredictor, RiskLevel
from setpoint.analyze.crash_history import PredictionLedger
from setpoint.analyze.foresight import STATUS, THRESHOLD, Foresight
from setpoint.config.prediction import CrashConfig, PredictionConfig
from setpoint.knowledge.open import open_store
from setpoint.knowledge.predictions import Prediction, PredictionOutcome
from setpoint.model import (
    Decision,
    GateMode,
    Sample,
    Symptom,
    Verdict,
    VerdictStatus,
)

MIB = 2**20
LIMIT = 512 * MIB


def tick(t: float, rss: dict[str, float]) -> list[Sample]:
    """Samples of services sharing one cgroup of LIMIT bytes."""
    used = sum(rss.values())
    out = [Sample("host.memory.available_bytes", 20e9, t)]
    for name, value in rss.items():
        entity = f"service:{name}"
        out += [
            Sample("service.rss_bytes", value, t, entity),
            Sample("service.memory_limit_bytes", LIMIT, t, entity, {"cgroup": "/b"}),
            Sample("service.memory_used_bytes", used, t, entity),
        ]
    return out


def drive(shape: dict[str, object], seconds: int) -> tuple[list[Symptom], float | None]:
    """Run until the cgroup would be full; return symptoms and the kill time."""
    predictor = CrashPredictor()
    fired: list[Symptom] = []
    for t in range(seconds):
        rss = {name: f(t) for name, f in shape.items()}  # type: ignore[operator]
        if sum(rss.values()) >= LIMIT:
            return fired, float(t)
        fired += predictor.observe(tick(float(t), rss))
    return fired, None


def test_a_leak_beside_a_bigger_process_names_the_leaker_long_before_the_kill() -> None:
    fired, kill = drive(
        {"leaky": lambda t: 16 * MIB + max(0, t - 10) * 3 * MIB, "big": lambda t: 300 * MIB}, 200
    )

    assert kill is not None
    first = fired[0]
    assert (first.kind, first.entity) == (OOM_PREDICTED, "service:leaky")
    assert kill - first.ts >= 30
    evidence = first.evidence
    assert evidence["culprit"] == "leaky"
    big = next(c for c in evidence["candidates"] if c["service"] == "big")
    leaky = next(c for c in evidence["candidates"] if c["service"] == "leaky")
    assert big["rss_bytes"] > leaky["rss_bytes"], "the innocent one is bigger"
    assert evidence["confidence"] >= 0.6
    assert evidence["risk"] in ("WARNING", "CRITICAL")


def test_healthy_memory_hungry_workloads_never_predict() -> None:
    shapes = {
        "steady": lambda t: 440 * MIB + (t * 7919 % 7) * MIB,
        "sawtooth": lambda t: 150 * MIB + 110 * MIB * ((t % 12) / 12),
        "burst": lambda t: 120 * MIB + (200 * MIB if t % 30 < 12 else 0),
    }
    for name, shape in shapes.items():
        fired, kill = drive({name: shape}, 300)
        assert (fired, kill) == ([], None), name


def test_risk_drops_and_the_symptom_clears_after_a_restart() -> None:
    predictor = CrashPredictor()
    states = []
    for t in range(120):
        leak = 16 * MIB + (t if t < 70 else t - 70) * 5 * MIB
        states += [s.state.value for s in predictor.observe(tick(float(t), {"leaky": leak}))]
    assert states == ["firing", "cleared"]
    assert predictor.assessments()[-1].risk in (RiskLevel.NORMAL, RiskLevel.ELEVATED)


def _fired(ts: float) -> Symptom:
    evidence = {"eta_s": 30.0, "eta_interval_s": [25.0, 40.0], "domain": "cgroup:/b"}
    return Symptom(OOM_PREDICTED, "service:leaky", ts, evidence=evidence)


def test_the_ledger_settles_every_outcome() -> None:
    saved: list[Prediction] = []
    ledger = PredictionLedger(saved.append)
    ledger.oom_counter(0.0, 0.0)
    confirmed, averted, missed = _fired(100.0), _fired(200.0), _fired(300.0)
    for s in (confirmed, averted, missed):
        ledger.on_symptom(s)
    kill = Symptom("service.down", "service:leaky", 120.0, evidence={"returncode": -9})
    ledger.on_symptom(kill)
    ledger.oom_counter(1.0, 121.0)
    verdict = Verdict(VerdictStatus.EXECUTE, GateMode.AUTO, "ok")
    ledger.on_decision(
        Decision("d", 201.0, OOM_PREDICTED, "service:leaky", None, "p", "service.restart",
                 "service:leaky", {}, verdict, symptom_id=averted.id)
    )  # fmt: skip
    ledger.settle(400.0)
    ledger.oom_counter(2.0, 500.0)
    ledger.settle(510.0)

    final = {p.id: p.outcome for p in saved}
    assert final[confirmed.id] is PredictionOutcome.CONFIRMED
    assert final[averted.id] is PredictionOutcome.AVERTED
    assert final[missed.id] is PredictionOutcome.FALSE_ALARM
    assert [p.outcome for p in saved if p.id not in final or p.ts == 500.0] == [
        PredictionOutcome.UNPREDICTED
    ]


def test_a_hand_kill_is_not_an_oom_kill() -> None:
    saved: list[Prediction] = []
    ledger = PredictionLedger(saved.append)
    ledger.oom_counter(0.0, 0.0)
    ledger.on_symptom(Symptom("service.down", "service:x", 10.0, evidence={"returncode": -9}))
    ledger.settle(100.0)
    assert saved == []


def test_predictions_persist_and_the_tuned_threshold_reaches_the_predictor(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    try:
        foresight = Foresight(PredictionConfig(), CrashConfig(), store.predictions.save)
        foresight.ledger.on_symptom(_fired(100.0))
        store.predictions.set_setting(THRESHOLD, "0.8", 101.0)
        foresight.sync(store.predictions, foresight.snapshot(102.0))

        assert foresight.crash is not None and foresight.crash.threshold == 0.8
        assert '"threshold": 0.8' in (store.predictions.get_setting(STATUS) or "")
        [pending] = store.predictions.pending()
        assert pending.entity == "service:leaky" and pending.eta_high == 40.0
        foresight.ledger.settle(1000.0)
        accuracy = store.predictions.accuracy()
        assert (accuracy.false_alarms, accuracy.pending, accuracy.precision) == (1, 0, 0.0)
        assert store.predictions.list(5)[0].outcome is PredictionOutcome.FALSE_ALARM
    finally:
        store.close()
