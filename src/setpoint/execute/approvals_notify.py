"""Tell people an action waits for them: a Slack-compatible incoming webhook.

The body is ``{"text": ...}``, which Slack, Mattermost and Rocket.Chat accept. A
failed delivery is a result, not an exception: the approval desk logs and audits it,
and the loop never waits on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from setpoint.model import Approval, Decision


@dataclass(frozen=True, slots=True)
class Delivery:
    """Whether a notification arrived, and what the receiver (or the network) said."""

    ok: bool
    detail: str


def approval_text(decision: Decision, approval: Approval, expires: str) -> str:
    """The message: what would be done to what, and the commands that answer it.

    >>> from setpoint.model import Verdict, VerdictStatus, GateMode
    >>> d = Decision("d1", 0.0, "service.down", "service:web", None, "restart-web",
    ...              "service.restart", "service:web", {},
    ...              Verdict(VerdictStatus.PENDING_APPROVAL, GateMode.APPROVE, "approve"),
    ...              preview="restart web")
    >>> a = Approval("d1", 0.0, 900.0, "service.restart", "service:web")
    >>> print(approval_text(d, a, "soon"))
    setpoint asks to run service.restart on service:web (service.down, playbook restart-web).
    Preview: restart web
    Approve: `setpoint approve d1`  Deny: `setpoint deny d1`  (expires soon)
    """
    return (
        f"setpoint asks to run {decision.action} on {decision.target} "
        f"({decision.trigger}, playbook {decision.playbook}).\n"
        f"Preview: {decision.preview or '(none)'}\n"
        f"Approve: `setpoint approve {approval.decision_id}`  "
        f"Deny: `setpoint deny {approval.decision_id}`  (expires {expires})"
    )


class WebhookNotifier:
    """POSTs ``{"text": ...}`` to one URL, with a timeout."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    async def send(self, text: str) -> Delivery:
        """Deliver ``text``; any network error or non-2xx answer is a failed delivery.

        httpx is imported here, not at the top: most agents never notify, and the
        client library costs the long-lived agent about 3 MiB of memory.
        """
        import httpx

        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, json={"text": text})
        except httpx.HTTPError as exc:
            return Delivery(False, f"{type(exc).__name__}: {exc}")
        if not response.is_success:
            return Delivery(False, f"HTTP {response.status_code}: {response.text[:200]}")
        return Delivery(True, f"HTTP {response.status_code}")
