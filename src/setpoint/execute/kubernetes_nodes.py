"""Kubernetes node actuators: ``k8s.cordon`` and ``k8s.drain``.

Drain is destructive (it evicts every pod it may from the node), so it declares
:attr:`Risk.DESTRUCTIVE` and the gate's approval rules apply. Like ``kubectl drain`` it
cordons first, skips DaemonSet and mirror pods, refuses pods without a controller or
with ``emptyDir`` data unless told, and evicts through the Eviction API so that
PodDisruptionBudgets are honoured (a 429 is retried until ``timeout``).
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any, ClassVar

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.durations import Duration
from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, RollbackFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification
from setpoint.execute.kubernetes import MERGE, api, request_opts


class NodeParams(BaseModel):
    """Which node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node: str = Field(min_length=1)


class K8sCordon:
    """Mark a node unschedulable; rollback uncordons it (if it was schedulable before)."""

    Config: ClassVar[type[NodeParams]] = NodeParams
    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.EXTERNAL

    def __init__(self, config: NodeParams) -> None:
        self.config = config
        self._was_cordoned: bool | None = None

    async def _set(
        self, ctx: ActionContext, error: type[ActuationError], value: bool | None
    ) -> bool:
        node = self.config.node

        def call(client: Any) -> bool:
            core = k8s.CoreV1Api(client)
            found: Any = core.read_node(node, **request_opts(ctx))
            before = bool(found.spec.unschedulable)
            if value is not None:
                body = {"spec": {"unschedulable": value}}
                core.patch_node(node, body, _content_type=MERGE, **request_opts(ctx))
            return before

        return await api(ctx, error, call)

    async def preview(self, ctx: ActionContext) -> str:
        """Whether the node is schedulable now."""
        now = await self._set(ctx, PreviewFailed, None)
        return f"cordon node {self.config.node} ({'already cordoned' if now else 'schedulable'})"

    async def apply(self, ctx: ActionContext) -> str:
        """Set ``spec.unschedulable``."""
        self._was_cordoned = await self._set(ctx, ApplyFailed, True)
        return f"cordoned node {self.config.node}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The node reads unschedulable."""
        now = await self._set(ctx, VerifyFailed, None)
        return Verification(now, f"node {self.config.node} unschedulable={now}", {"cordoned": now})

    async def rollback(self, ctx: ActionContext) -> str:
        """Uncordon, unless the node was cordoned before :meth:`apply`."""
        if self._was_cordoned is None:
            raise RollbackFailed(f"node {self.config.node}: not applied")
        if self._was_cordoned:
            return f"node {self.config.node} was cordoned before: left cordoned"
        await self._set(ctx, RollbackFailed, False)
        return f"uncordoned node {self.config.node}"


class K8sDrain(K8sCordon):
    """Cordon a node and evict its pods; rollback uncordons it.

    Evicted pods are not restored by rollback: their controllers recreate them elsewhere.
    """

    class DrainParams(NodeParams):
        """How far the drain may go."""

        delete_emptydir_data: bool = False
        force: bool = Field(False, description="also evict pods that no controller manages")
        timeout: Duration = Field(300.0, gt=0, description="for evictions and pods to leave")

    Config = DrainParams
    risk: ClassVar[Risk] = Risk.DESTRUCTIVE

    def __init__(self, config: DrainParams) -> None:
        super().__init__(config)
        self.drain = config

    def _pods(self, client: Any, ctx: ActionContext) -> tuple[list[Any], list[str]]:
        """The pods to evict, and the reasons drain must refuse."""
        selector = f"spec.nodeName={self.config.node}"
        pods: Any = k8s.CoreV1Api(client).list_pod_for_all_namespaces(
            field_selector=selector, **request_opts(ctx)
        )
        evict, refuse = [], []
        for pod in pods.items:
            owners = pod.metadata.owner_references or []
            annotations = pod.metadata.annotations or {}
            if (
                any(o.kind == "DaemonSet" for o in owners)
                or "kubernetes.io/config.mirror" in annotations
            ):
                continue
            if pod.status and pod.status.phase in ("Succeeded", "Failed"):
                continue
            where = f"{pod.metadata.namespace}/{pod.metadata.name}"
            if not any(o.controller for o in owners) and not self.drain.force:
                refuse.append(f"{where} has no controller (force: true to evict it)")
            if (
                any(v.empty_dir for v in pod.spec.volumes or [])
                and not self.drain.delete_emptydir_data
            ):
                refuse.append(f"{where} uses emptyDir (delete_emptydir_data: true to lose it)")
            evict.append(pod)
        return evict, refuse

    async def preview(self, ctx: ActionContext) -> str:
        """The pods that would be evicted, or why drain would refuse."""
        evict, refuse = await api(ctx, PreviewFailed, lambda c: self._pods(c, ctx))
        names = ", ".join(f"{p.metadata.namespace}/{p.metadata.name}" for p in evict) or "none"
        verdict = f"; would refuse: {'; '.join(refuse)}" if refuse else ""
        return f"cordon node {self.config.node} and evict {len(evict)} pod(s): {names}{verdict}"

    async def apply(self, ctx: ActionContext) -> str:
        """Check, cordon, then evict every pod, retrying PDB refusals until ``timeout``."""
        evict, refuse = await api(ctx, ApplyFailed, lambda c: self._pods(c, ctx))
        if refuse:
            raise ApplyFailed(f"drain of {self.config.node} refused: {'; '.join(refuse)}")
        self._was_cordoned = await self._set(ctx, ApplyFailed, True)
        deadline = time.monotonic() + self.drain.timeout
        pending = list(evict)
        while pending:
            pending = await api(ctx, ApplyFailed, partial(self._evict, ctx=ctx, pods=pending))
            if pending and time.monotonic() >= deadline:
                names = ", ".join(p.metadata.name for p in pending)
                raise ApplyFailed(f"drain of {self.config.node}: still not evictable: {names}")
            if pending:
                await asyncio.sleep(2.0)
        return f"cordoned node {self.config.node} and evicted {len(evict)} pod(s)"

    def _evict(self, client: Any, ctx: ActionContext, pods: list[Any]) -> list[Any]:
        """Evict each pod; return those a disruption budget refused (HTTP 429)."""
        core, refused = k8s.CoreV1Api(client), []
        for pod in pods:
            meta = pod.metadata
            body = k8s.V1Eviction(
                api_version="policy/v1",
                kind="Eviction",
                metadata=k8s.V1ObjectMeta(name=meta.name, namespace=meta.namespace),
            )
            try:
                core.create_namespaced_pod_eviction(
                    meta.name, meta.namespace, body, **request_opts(ctx)
                )
            except ApiException as exc:
                if exc.status == 429:
                    refused.append(pod)
                elif exc.status != 404:
                    raise
        return refused

    async def verify(self, ctx: ActionContext) -> Verification:
        """No evictable pod is left on the node (polled up to ``timeout``)."""
        deadline = time.monotonic() + self.drain.timeout
        while True:
            left, _ = await api(ctx, VerifyFailed, lambda c: self._pods(c, ctx))
            if not left or time.monotonic() >= deadline:
                break
            await asyncio.sleep(2.0)
        names = [f"{p.metadata.namespace}/{p.metadata.name}" for p in left]
        detail = f"node {self.config.node}: {len(left)} pod(s) left {names if left else ''}"
        return Verification(not left, detail.strip(), {"pods_left": len(left)})
