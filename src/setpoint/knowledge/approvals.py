"""The approvals contract: requests for a human's yes or no, with an expiry.

A request is stored as pending; it moves once, to approved, denied or expired, and
never back. Moving it is one conditional UPDATE, so two people approving at once (or
an approval racing its expiry) cannot both win.
"""

from __future__ import annotations

import builtins
from typing import Protocol

from setpoint.model import Approval, ApprovalStatus


class ApprovalRepository(Protocol):
    """Approvals by decision id."""

    def request(self, approval: Approval) -> None:
        """Store a new pending approval for a stored decision."""
        ...

    def get(self, decision_id: str) -> Approval | None:
        """One approval by its decision's id."""
        ...

    def list(
        self, status: ApprovalStatus | None = None, limit: int = 100
    ) -> builtins.list[Approval]:
        """Approvals (with ``status`` when given), newest request first."""
        ...

    def decide(
        self,
        decision_id: str,
        status: ApprovalStatus,
        at: float,
        by: str,
        note: str = "",
    ) -> Approval | None:
        """Move a pending, unexpired approval to ``status``; None when it was not one."""
        ...

    def expire(self, now: float) -> builtins.list[Approval]:
        """Mark every pending approval whose time is up as expired; return them."""
        ...
