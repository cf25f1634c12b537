"""Approvals with expiry, on a real SQLite store, a manual clock and a real webhook server."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from setpoint.clock import ManualClock
from setpoint.errors import ApprovalError, ApprovalNotFound
from setpoint.execute.approvals import ApprovalDesk
from setpoint.execute.approvals_notify import WebhookNotifier
from setpoint.execute.audit import Auditor
from setpoint.knowledge.sqlite import open_sqlite_store
from setpoint.knowledge.writer import StoreWriter
from setpoint.model import ApprovalStatus, Decision, GateMode, Verdict, VerdictStatus, new_id
from tests.unit.execute.webhook_server import webhook_server

TTL = 900.0


class Desk:
    def __init__(self, tmp: Path, notifier: WebhookNotifier | None = None) -> None:
        self.store = open_sqlite_store(tmp / "knowledge.db")
        self.writer = StoreWriter(self.store)
        self.clock = ManualClock(time.time())
        self.desk = ApprovalDesk(self.writer, Auditor(self.writer), self.clock, TTL, notifier)

    async def decision(self) -> Decision:
        verdict = Verdict(VerdictStatus.PENDING_APPROVAL, GateMode.APPROVE, "approve", "mode")
        decision = Decision(
            new_id(),
            time.time(),
            "service.down",
            "service:web",
            None,
            "restart-web",
            "service.restart",
            "service:web",
            {},
            verdict,
            preview="restart web: start it",
        )
        await self.writer.run(self.store.decisions.record, decision)
        return decision

    async def events(self, decision_id: str) -> list[tuple[str, str]]:
        await self.writer.drain()
        return [(e.event, e.actor) for e in self.store.audit.list(decision_id)]


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    made = Desk(tmp_path)
    yield made
    await made.desk.aclose()
    await made.writer.drain()
    made.writer.close()


async def test_a_request_is_stored_pending_with_its_expiry(desk: Desk) -> None:
    decision = await desk.decision()
    approval = await desk.desk.request(decision)

    stored = desk.store.approvals.get(decision.id)
    assert stored == approval
    assert stored.status is ApprovalStatus.PENDING
    assert stored.expires_at == pytest.approx(desk.clock.time() + TTL)
    assert (stored.action, stored.target, stored.preview) == (
        "service.restart",
        "service:web",
        "restart web: start it",
    )
    assert await desk.events(decision.id) == [("approval-requested", "setpoint")]
    assert desk.desk.pending_count() == 1


async def test_approve_and_deny_are_recorded_with_who(desk: Desk) -> None:
    yes, no = await desk.decision(), await desk.decision()
    await desk.desk.request(yes)
    await desk.desk.request(no)

    approved = await desk.desk.decide(yes.id, True, "alice", "go")
    denied = await desk.desk.decide(no.id, False, "bob", "not during the sale")

    assert (approved.status, approved.decided_by, approved.note) == (
        ApprovalStatus.APPROVED,
        "alice",
        "go",
    )
    assert denied.status is ApprovalStatus.DENIED
    assert await desk.events(yes.id) == [("approval-requested", "setpoint"), ("approved", "alice")]
    [_, refused] = desk.store.audit.list(no.id)
    assert (refused.event, refused.actor) == ("verdict:refused", "bob")
    assert refused.detail["reason"] == "denied by bob: not during the sale"
    with pytest.raises(ApprovalError, match="already approved \\(by alice\\)"):
        await desk.desk.decide(yes.id, False, "mallory")
    with pytest.raises(ApprovalNotFound):
        await desk.desk.decide("nope", True, "alice")


async def test_an_expired_approval_cannot_be_approved(desk: Desk) -> None:
    decision = await desk.decision()
    await desk.desk.request(decision)
    desk.clock.advance(TTL - 1)
    assert await desk.desk.expire_due() == []
    desk.clock.advance(1)

    with pytest.raises(ApprovalError, match="expired; nothing was done"):
        await desk.desk.decide(decision.id, True, "alice")

    stored = desk.store.approvals.get(decision.id)
    assert stored is not None and stored.status is ApprovalStatus.EXPIRED
    assert await desk.events(decision.id) == [
        ("approval-requested", "setpoint"),
        ("expired", "setpoint"),
    ]


async def test_expiry_is_found_by_the_tick_and_survives_a_restart(desk: Desk) -> None:
    decision = await desk.decision()
    await desk.desk.request(decision)
    again = ApprovalDesk(desk.writer, Auditor(desk.writer), desk.clock, TTL)
    await again.start()
    assert again.pending_count() == 1 and not again.due()

    desk.clock.advance(TTL)
    assert again.due()
    [expired] = await again.expire_due()

    assert expired.decision_id == decision.id and expired.status is ApprovalStatus.EXPIRED
    assert again.pending_count() == 0
    assert await again.expire_due() == []


async def test_the_webhook_gets_the_decision_and_the_approve_command(tmp_path: Path) -> None:
    with webhook_server() as hook:
        made = Desk(tmp_path, WebhookNotifier(hook.url, timeout=5))
        decision = await made.decision()
        await made.desk.request(decision)
        await made.desk.aclose()
        events = await made.events(decision.id)
        made.writer.close()

    [body] = hook.bodies
    assert set(body) == {"text"}
    text = body["text"]
    assert "service.restart on service:web (service.down, playbook restart-web)" in text
    assert "Preview: restart web: start it" in text
    assert f"`setpoint approve {decision.id}`" in text and f"`setpoint deny {decision.id}`" in text
    assert events == [("approval-requested", "setpoint"), ("notified", "setpoint")]


@pytest.mark.parametrize("answer", [500, None])
async def test_a_failed_webhook_is_audited_and_blocks_nothing(
    tmp_path: Path, answer: int | None
) -> None:
    if answer is None:
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/"
        made = Desk(tmp_path, WebhookNotifier(url, timeout=2))
        decision = await made.decision()
        started = time.monotonic()
        await made.desk.request(decision)
        assert time.monotonic() - started < 1.0
    else:
        with webhook_server(status=answer) as hook:
            made = Desk(tmp_path, WebhookNotifier(hook.url, timeout=2))
            decision = await made.decision()
            await made.desk.request(decision)
            await asyncio.wait_for(made.desk.aclose(), 5)
    await asyncio.wait_for(made.desk.aclose(), 5)
    await made.writer.drain()
    [_, failed] = made.store.audit.list(decision.id)
    made.writer.close()
    assert failed.event == "notify-failed"
    assert ("HTTP 500" if answer else "ConnectError") in failed.detail["error"]
