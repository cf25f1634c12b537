"""``k8s.set_resources``: a Deployment container's requests and limits; rollback restores.

The change is a JSON Patch that first tests the container's name at its index, then
replaces its whole ``resources``: exact both ways (a merge patch could not remove a
limit the container did not have before), and refused by the API server if the pod
template changed under us.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kubernetes import client as k8s
from pydantic import Field, model_validator

from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, RollbackFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification
from setpoint.execute.kubernetes import JSON_PATCH, WorkloadParams, api, request_opts, wait_rollout


class K8sSetResources:
    """Set requests/limits (``cpu``, ``memory``) of one container of a Deployment.

    >>> K8sSetResources.Config(name="web", container="app", limits={"cpu": "500m"}).limits
    {'cpu': '500m'}
    """

    class Config(WorkloadParams):
        """Which container, and the quantities to set (others are kept)."""

        container: str = Field(min_length=1)
        requests: dict[str, str] = Field(default_factory=dict, description="e.g. {cpu: 250m}")
        limits: dict[str, str] = Field(default_factory=dict, description="e.g. {memory: 512Mi}")

        @model_validator(mode="after")
        def _something(self) -> K8sSetResources.Config:
            if not self.requests and not self.limits:
                raise ValueError("give requests, limits or both")
            return self

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.EXTERNAL

    def __init__(self, config: Config) -> None:
        self.config = config
        self._previous: tuple[int, dict[str, Any]] | None = None

    def _where(self) -> str:
        c = self.config
        return f"deployment {c.namespace}/{c.name} container {c.container}"

    def _wanted(self, now: dict[str, Any]) -> dict[str, Any]:
        out = {k: dict(v) for k, v in now.items() if v}
        for kind, values in (("requests", self.config.requests), ("limits", self.config.limits)):
            if values:
                out[kind] = {**out.get(kind, {}), **values}
        return out

    def _find(self, client: Any, ctx: ActionContext) -> tuple[int, dict[str, Any]]:
        c = self.config
        dep: Any = k8s.AppsV1Api(client).read_namespaced_deployment(
            c.name, c.namespace, **request_opts(ctx)
        )
        for i, container in enumerate(dep.spec.template.spec.containers):
            if container.name == c.container:
                res = container.resources
                now = {"requests": res.requests or {}, "limits": res.limits or {}} if res else {}
                return i, {k: v for k, v in now.items() if v}
        names = ", ".join(x.name for x in dep.spec.template.spec.containers)
        raise LookupError(f"no container {c.container!r} (containers: {names})")

    async def _read(
        self, ctx: ActionContext, error: type[ActuationError]
    ) -> tuple[int, dict[str, Any]]:
        try:
            return await api(ctx, error, lambda client: self._find(client, ctx))
        except LookupError as exc:
            raise error(f"deployment {self.config.namespace}/{self.config.name}: {exc}") from exc

    async def _patch(
        self, ctx: ActionContext, error: type[ActuationError], index: int, resources: dict[str, Any]
    ) -> None:
        c = self.config
        base = f"/spec/template/spec/containers/{index}"
        body: list[dict[str, Any]] = [
            {"op": "test", "path": f"{base}/name", "value": c.container},
            {"op": "replace", "path": f"{base}/resources", "value": resources},
        ]
        await api(
            ctx,
            error,
            lambda client: k8s.AppsV1Api(client).patch_namespaced_deployment(
                c.name, c.namespace, body, _content_type=JSON_PATCH, **request_opts(ctx)
            ),
        )

    async def preview(self, ctx: ActionContext) -> str:
        """The container's resources now and after."""
        _, now = await self._read(ctx, PreviewFailed)
        return f"{self._where()}: {now} -> {self._wanted(now)}"

    async def apply(self, ctx: ActionContext) -> str:
        """Read the resources, then replace them with the merged ones."""
        index, now = await self._read(ctx, ApplyFailed)
        await self._patch(ctx, ApplyFailed, index, self._wanted(now))
        self._previous = (index, now)
        return f"{self._where()}: {now} -> {self._wanted(now)}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The template holds the new resources and the rollout completes."""
        c = self.config
        _, now = await self._read(ctx, VerifyFailed)
        previous = self._previous[1] if self._previous else {}
        if now != self._wanted(previous):
            return Verification(False, f"container {c.container} resources are {now}", {})
        return await wait_rollout(ctx, c.namespace, c.name, c.wait)

    async def rollback(self, ctx: ActionContext) -> str:
        """Replace the resources with the ones read before :meth:`apply`."""
        c = self.config
        if self._previous is None:
            raise RollbackFailed(f"deployment {c.namespace}/{c.name}: not applied")
        index, previous = self._previous
        await self._patch(ctx, RollbackFailed, index, previous)
        return f"deployment {c.namespace}/{c.name} container {c.container}: restored {previous}"
