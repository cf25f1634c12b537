"""Writing the audit log from the execute stage: one call per event, never blocking."""

from __future__ import annotations

import time
from typing import Any

from setpoint.knowledge.writer import StoreWriter
from setpoint.model import AuditEntry


class Auditor:
    """Queues audit entries on the store writer, in the order they happen."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer

    def __call__(
        self,
        event: str,
        target: str,
        decision_id: str | None = None,
        *,
        actor: str = "setpoint",
        **detail: Any,
    ) -> None:
        """Append ``event`` on ``target`` (of ``decision_id``) by ``actor``, with ``detail``."""
        entry = AuditEntry(time.time(), actor, event, target, detail, decision_id)
        self.writer.submit(self.writer.store.audit.append, entry)
