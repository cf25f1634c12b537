"""The safety gate, on a manual clock: modes, the restart budget and the cooldown."""

from __future__ import annotations

import pytest

from setpoint.clock import ManualClock
from setpoint.config.models import BudgetConfig, GateConfig
from setpoint.execute.base import Risk
from setpoint.execute.gate import SafetyGate
from setpoint.model import GateMode, VerdictStatus

WEB, DB = "service:web", "service:db"
RESTART = "service.restart"


def gate(
    mode: GateMode = GateMode.AUTO, count: int = 3, window: float = 600.0, cooldown: float = 1.0
) -> tuple[SafetyGate, ManualClock]:
    clock = ManualClock(1000.0)
    config = GateConfig(cooldown=cooldown, restart_budget=BudgetConfig(count=count, window=window))
    return SafetyGate(mode, config, clock), clock


@pytest.mark.parametrize(
    ("mode", "status", "reason"),
    [
        (GateMode.OBSERVE, VerdictStatus.OBSERVE, "mode is observe"),
        (GateMode.DRY_RUN, VerdictStatus.DRY_RUN, "mode is dry-run"),
        (GateMode.APPROVE, VerdictStatus.PENDING_APPROVAL, "mode is approve"),
    ],
)
@pytest.mark.parametrize("risk", list(Risk))
def test_modes_short_of_auto_never_allow(
    mode: GateMode, status: VerdictStatus, reason: str, risk: Risk
) -> None:
    g, _ = gate(mode)
    verdict = g.judge(RESTART, WEB, risk)

    assert verdict.status is status and verdict.mode is mode
    assert verdict.reason.startswith(reason)
    assert not verdict.allowed


def test_modes_short_of_auto_do_not_escalate_an_exhausted_budget() -> None:
    g, _ = gate(GateMode.DRY_RUN, count=1)
    g.record(WEB)
    assert g.judge(RESTART, WEB, Risk.DISRUPTIVE).status is VerdictStatus.DRY_RUN


def test_auto_allows_a_disruptive_action_and_counts_it() -> None:
    g, _ = gate(count=3)
    first = g.judge(RESTART, WEB, Risk.DISRUPTIVE)
    g.record(WEB)
    second = g.judge(RESTART, WEB, Risk.DISRUPTIVE)

    assert first.status is VerdictStatus.EXECUTE and first.allowed
    assert first.reason == "mode is auto; disruptive action 1 of 3 allowed"
    assert second.reason == "mode is auto; disruptive action 2 of 3 allowed"


def test_budget_escalates_at_count_plus_one() -> None:
    g, clock = gate(count=3, window=600.0, cooldown=0.0)
    for _ in range(3):
        assert g.judge(RESTART, WEB, Risk.DISRUPTIVE).allowed
        g.record(WEB)
        clock.advance(10)

    verdict = g.judge(RESTART, WEB, Risk.DISRUPTIVE)

    assert verdict.status is VerdictStatus.ESCALATE and not verdict.allowed
    assert "budget exhausted: 3 disruptive actions on service:web within 600s" in verdict.reason
    assert g.judge(RESTART, DB, Risk.DISRUPTIVE).allowed, "the budget is per target"
    assert g.judge(RESTART, WEB, Risk.DESTRUCTIVE).status is VerdictStatus.ESCALATE


def test_budget_frees_up_as_actions_leave_the_window() -> None:
    g, clock = gate(count=2, window=100.0, cooldown=0.0)
    g.record(WEB)  # t=1000
    clock.advance(30)
    g.record(WEB)  # t=1030
    assert g.judge(RESTART, WEB, Risk.DISRUPTIVE).status is VerdictStatus.ESCALATE

    clock.advance(69.9)  # t=1099.9: both still inside the window
    assert g.judge(RESTART, WEB, Risk.DISRUPTIVE).status is VerdictStatus.ESCALATE
    clock.advance(0.1)  # t=1100: the first has left it
    verdict = g.judge(RESTART, WEB, Risk.DISRUPTIVE)
    assert verdict.allowed and verdict.reason.endswith("action 2 of 2 allowed")

    clock.advance(30)  # t=1130: both have left it
    assert g.judge(RESTART, WEB, Risk.DISRUPTIVE).reason.endswith("action 1 of 2 allowed")


def test_safe_actions_are_not_budgeted() -> None:
    g, _ = gate(count=1)
    for _ in range(5):
        g.record(WEB)

    verdict = g.judge("cache.drop", WEB, Risk.SAFE)

    assert verdict.allowed
    assert verdict.reason == "mode is auto; cache.drop is safe"
    assert g.judge(RESTART, WEB, Risk.DISRUPTIVE).status is VerdictStatus.ESCALATE


def test_cooldown_remaining_counts_down_from_the_last_action() -> None:
    g, clock = gate(cooldown=5.0)
    assert g.cooldown_remaining(WEB) == 0.0

    g.record(WEB)
    assert g.cooldown_remaining(WEB) == 5.0
    clock.advance(2)
    g.record(DB)
    assert g.cooldown_remaining(WEB) == 3.0
    assert g.cooldown_remaining(DB) == 5.0, "cooldowns are per target"
    clock.advance(3)
    assert g.cooldown_remaining(WEB) == 0.0
    clock.advance(100)
    assert g.cooldown_remaining(WEB) == 0.0, "never negative"


def test_cooldown_restarts_with_each_action() -> None:
    g, clock = gate(cooldown=5.0)
    g.record(WEB)
    clock.advance(4)
    g.record(WEB)

    assert g.cooldown_remaining(WEB) == 5.0
