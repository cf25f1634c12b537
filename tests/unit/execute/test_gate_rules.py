"""Every rule of the safety gate, on a manual clock: modes, limits, rate, flap, blast, pause."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from setpoint.clock import ManualClock
from setpoint.config.models import (
    BlastRadiusConfig,
    FlapConfig,
    GateConfig,
    LimitConfig,
    RateConfig,
    RateLimitsConfig,
    RiskName,
)
from setpoint.execute.base import Blast, Risk
from setpoint.execute.gate import PAUSE_FILE, HostFacts, KillSwitch, Limit, SafetyGate, Scale
from setpoint.model import GateMode, VerdictStatus

WEB, API = "service:web", "service:api"
HOST = HostFacts(memory_bytes=8 * 2**30, cpus=4)


def make(
    mode: GateMode = GateMode.AUTO,
    switch: KillSwitch | None = None,
    groups: dict[str, str] | None = None,
    **config: object,
) -> tuple[SafetyGate, ManualClock]:
    clock = ManualClock(1000.0)
    settings = {"cooldown": 0.0, **config}
    return SafetyGate(mode, GateConfig.model_validate(settings), clock, switch, groups, HOST), clock


def test_risk_names_in_config_are_the_risk_classes() -> None:
    assert set(get_args(RiskName)) == {r.value for r in Risk}


@pytest.mark.parametrize(
    ("global_mode", "action", "risk", "expected"),
    [
        (GateMode.AUTO, "disk.delete", Risk.DESTRUCTIVE, VerdictStatus.PENDING_APPROVAL),
        (GateMode.AUTO, "process.renice", Risk.SAFE, VerdictStatus.EXECUTE),
        (GateMode.DRY_RUN, "disk.delete", Risk.DESTRUCTIVE, VerdictStatus.DRY_RUN),
        (GateMode.DRY_RUN, "service.restart", Risk.DISRUPTIVE, VerdictStatus.EXECUTE),
        (GateMode.OBSERVE, "service.restart", Risk.DISRUPTIVE, VerdictStatus.EXECUTE),
        (GateMode.AUTO, "process.signal", Risk.DESTRUCTIVE, VerdictStatus.OBSERVE),
    ],
)
def test_mode_precedence_action_then_most_cautious_of_global_and_risk(
    global_mode: GateMode, action: str, risk: Risk, expected: VerdictStatus
) -> None:
    gate, _ = make(
        global_mode,
        mode_by_risk={"destructive": "approve"},
        mode_by_action={"service.restart": "auto", "process.signal": "observe"},
    )
    verdict = gate.judge(action, WEB, risk)
    assert verdict.status is expected, verdict.reason


def test_the_verdict_names_the_setting_that_chose_the_mode() -> None:
    gate, _ = make(mode_by_risk={"destructive": "approve"})
    verdict = gate.judge("disk.delete", WEB, Risk.DESTRUCTIVE)
    assert verdict.reason == "mode is approve (mode_by_risk destructive): waiting for a human"
    assert verdict.rule == "mode"


def test_a_declared_limit_refuses_and_names_the_constraint() -> None:
    gate, _ = make()
    floor = (Limit("cpu_percent", min=10),)
    refused = gate.judge(
        "process.cpu_limit", WEB, Risk.DISRUPTIVE, params={"cpu_percent": 5.0}, limits=floor
    )
    allowed = gate.judge(
        "process.cpu_limit", WEB, Risk.DISRUPTIVE, params={"cpu_percent": 10.0}, limits=floor
    )

    assert refused.status is VerdictStatus.REFUSED
    assert refused.rule == "constraint:process.cpu_limit.cpu_percent"
    assert refused.reason == ("constraint process.cpu_limit.cpu_percent >= 10: cpu_percent is 5")
    assert allowed.allowed


def test_a_relative_limit_is_measured_against_the_host() -> None:
    gate, _ = make()
    cap = (Limit("max_bytes", max=0.9, scale=Scale.HOST_MEMORY),)
    over = gate.judge(
        "memory.limit", WEB, Risk.DESTRUCTIVE, params={"max_bytes": 8 * 2**30}, limits=cap
    )
    under = gate.judge(
        "memory.limit", WEB, Risk.DESTRUCTIVE, params={"max_bytes": 2**30}, limits=cap
    )
    assert over.status is VerdictStatus.REFUSED
    assert "(0.9 of host memory)" in over.reason
    assert under.allowed


def test_the_config_replaces_a_declared_limit() -> None:
    gate, _ = make(limits={"process.renice": {"nice": LimitConfig(min=0)}})
    verdict = gate.judge(
        "process.renice", WEB, Risk.SAFE, params={"nice": -5}, limits=(Limit("nice", min=-10),)
    )
    assert verdict.rule == "constraint:process.renice.nice"


def test_a_dry_run_reports_the_refusal_a_real_run_would_get() -> None:
    gate, _ = make(GateMode.DRY_RUN)
    verdict = gate.judge(
        "process.renice", WEB, Risk.SAFE, params={"nice": -20}, limits=(Limit("nice", min=-10),)
    )
    assert verdict.status is VerdictStatus.REFUSED


def test_one_destructive_action_per_minute_by_default() -> None:
    gate, clock = make()
    assert gate.judge("process.signal", WEB, Risk.DESTRUCTIVE).allowed
    gate.admit("process.signal", WEB, Risk.DESTRUCTIVE)

    refused = gate.judge("process.signal", API, Risk.DESTRUCTIVE)
    assert refused.status is VerdictStatus.REFUSED and refused.rule == "rate"
    assert refused.reason == ("rate limit: at most 1 destructive action(s) per 60s; next in 60.0s")
    assert gate.judge("service.restart", API, Risk.DISRUPTIVE).allowed, "per risk class"
    clock.advance(59.9)
    assert gate.judge("process.signal", API, Risk.DESTRUCTIVE).rule == "rate"
    clock.advance(0.1)
    assert gate.judge("process.signal", API, Risk.DESTRUCTIVE).allowed


def test_a_bucket_allows_its_burst_then_refills_evenly() -> None:
    limits = RateLimitsConfig(safe=RateConfig(count=3, per=30), destructive=None)
    gate, clock = make(rate_limits=limits)
    for target in ("service:a", "service:b", "service:c"):
        assert gate.judge("process.renice", target, Risk.SAFE).allowed
        gate.admit("process.renice", target, Risk.SAFE)
    assert gate.judge("process.renice", API, Risk.SAFE).rule == "rate"
    clock.advance(10)  # one token back
    assert gate.judge("process.renice", API, Risk.SAFE).allowed
    assert gate.judge("process.signal", API, Risk.DESTRUCTIVE).allowed, "destructive: null"


def test_flapping_backs_off_exponentially_then_forgets() -> None:
    flap = FlapConfig(after=2, backoff=10, max_backoff=35, window=600)
    gate, clock = make(flap=flap, restart_budget={"count": 100})
    waits = []
    for _ in range(5):
        wait, why = gate.wait_before("service.restart", WEB)
        waits.append((wait, why))
        clock.advance(wait)
        assert gate.judge("service.restart", WEB, Risk.DISRUPTIVE).allowed
        gate.release(gate.admit("service.restart", WEB, Risk.DISRUPTIVE))
    assert waits == [
        (0.0, "cooldown"),
        (0.0, "cooldown"),
        (10.0, "backoff"),
        (20.0, "backoff"),
        (35.0, "backoff"),
    ]

    refused = gate.judge("service.restart", WEB, Risk.DISRUPTIVE)
    assert refused.status is VerdictStatus.REFUSED and refused.rule == "backoff"
    assert refused.reason == (
        "backoff: service.restart on service:web ran 5 times in a row; 35.0s of backoff left"
    )
    assert gate.judge("service.restart", API, Risk.DISRUPTIVE).allowed, "per target"
    clock.advance(600)
    assert gate.wait_before("service.restart", WEB) == (0.0, "cooldown")


def test_no_backoff_is_waited_once_the_budget_escalates() -> None:
    gate, _ = make(flap=FlapConfig(after=1, backoff=100), restart_budget={"count": 1})
    gate.admit("service.restart", WEB, Risk.DISRUPTIVE)
    assert gate.wait_before("service.restart", WEB) == (0.0, "")
    assert gate.judge("service.restart", WEB, Risk.DISRUPTIVE).status is VerdictStatus.ESCALATE


def test_blast_radius_bounds_a_group_and_the_host() -> None:
    groups = {f"service:w{i}": "web" for i in range(4)} | {"service:db": "db"}
    gate, _ = make(groups=groups, blast_radius=BlastRadiusConfig(max_concurrent=3))
    first = gate.admit("service.restart", "service:w0", Risk.DISRUPTIVE)
    gate.admit("service.restart", "service:w1", Risk.DISRUPTIVE)

    refused = gate.judge("service.restart", "service:w2", Risk.DISRUPTIVE)
    assert refused.rule == "blast-radius"
    assert refused.reason == (
        "blast radius: 2 of 4 members of group web in action (at most 2 at once)"
    )
    assert gate.judge("service.restart", "service:db", Risk.DISRUPTIVE).allowed
    gate.admit("service.restart", "service:db", Risk.DISRUPTIVE)
    assert gate.judge("process.renice", "host", Risk.SAFE).reason == (
        "blast radius: 3 actions in flight on this host (at most 3)"
    )
    gate.release(first)
    assert gate.judge("service.restart", "service:w2", Risk.SAFE).allowed
    assert gate.status()["in_flight"] == 2


def test_a_lone_member_may_always_be_acted_on() -> None:
    gate, _ = make(groups={WEB: "solo"})
    assert gate.judge("service.restart", WEB, Risk.DISRUPTIVE).allowed


def test_pause_refuses_everything_until_resumed(tmp_path: Path) -> None:
    switch = KillSwitch(tmp_path / PAUSE_FILE)
    gate, _ = make(switch=switch)
    switch.pause("alice", "deploy in progress", now=5.0)

    for mode_action, risk in [("service.restart", Risk.DISRUPTIVE), ("x", Risk.SAFE)]:
        verdict = gate.judge(mode_action, WEB, risk, approved=True)
        assert verdict.status is VerdictStatus.REFUSED and verdict.rule == "paused"
        assert verdict.reason == "paused by alice: deploy in progress"
    assert gate.status()["paused"] is True and gate.status()["paused_by"] == "alice"

    again = SafetyGate(GateMode.AUTO, GateConfig(), ManualClock(0), KillSwitch(switch.path))
    assert again.judge("x", WEB, Risk.SAFE).rule == "paused", "the pause survives a restart"
    assert switch.resume()
    assert gate.judge("x", WEB, Risk.SAFE).allowed


def test_an_unreadable_pause_file_counts_as_paused(tmp_path: Path) -> None:
    (tmp_path / PAUSE_FILE).write_text("{not json")
    gate, _ = make(switch=KillSwitch(tmp_path / PAUSE_FILE))
    verdict = gate.judge("x", WEB, Risk.SAFE)
    assert verdict.rule == "paused" and "an unreadable pause file" in verdict.reason


def test_approval_lifts_the_mode_but_not_the_limits() -> None:
    gate, _ = make(GateMode.APPROVE, restart_budget={"count": 1})
    assert gate.judge("service.restart", WEB, Risk.DISRUPTIVE).status is (
        VerdictStatus.PENDING_APPROVAL
    )
    approved = gate.judge("service.restart", WEB, Risk.DISRUPTIVE, approved=True)
    assert approved.allowed and approved.reason.startswith("mode is approve; approved;")
    gate.admit("service.restart", WEB, Risk.DISRUPTIVE)
    again = gate.judge("service.restart", WEB, Risk.DISRUPTIVE, approved=True)
    assert again.status is VerdictStatus.ESCALATE


def test_a_host_wide_action_runs_alone() -> None:
    gate, _ = make()
    restart = gate.admit("service.restart", WEB, Risk.DISRUPTIVE, Blast.SERVICE)
    refused = gate.judge("memory.drop_caches", "host", Risk.SAFE, blast=Blast.HOST)
    assert (refused.rule, refused.reason) == (
        "blast-radius",
        "blast radius: a host-wide action runs alone; 1 action(s) in flight",
    )
    gate.release(restart)
    compact = gate.admit("memory.compact", "host", Risk.SAFE, Blast.HOST)
    assert gate.judge("process.renice", API, Risk.SAFE, blast=Blast.PROCESS).reason == (
        "blast radius: a host-wide action is in flight"
    )
    gate.release(compact)
    assert gate.judge("process.renice", API, Risk.SAFE, blast=Blast.PROCESS).allowed


def test_only_out_of_service_actions_count_against_a_group() -> None:
    gate, _ = make(groups={WEB: "web", API: "web"})
    gate.admit("service.restart", WEB, Risk.DISRUPTIVE, Blast.SERVICE)
    assert gate.judge("process.renice", API, Risk.SAFE, blast=Blast.PROCESS).allowed
    assert gate.judge("disk.delete", API, Risk.SAFE, blast=Blast.FILES).allowed
    assert gate.judge("service.restart", API, Risk.DISRUPTIVE).rule == "blast-radius"


def test_the_rate_limit_is_waited_for_not_refused() -> None:
    gate, clock = make(rate_limits=RateLimitsConfig(destructive=RateConfig(count=1, per=60)))
    gate.admit("process.kill", WEB, Risk.DESTRUCTIVE)
    clock.advance(15)
    assert gate.wait_before("process.kill", API, Risk.DESTRUCTIVE) == (45.0, "rate")
    assert gate.wait_before("process.kill", API, Risk.SAFE) == (0.0, "cooldown")
