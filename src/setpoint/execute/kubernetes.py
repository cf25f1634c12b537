"""Kubernetes workload actuators: scale, HPA bounds, rollout restart, container resources.

Through the official client, configured by ``integrations.kubernetes`` (kubeconfig and
context). The client is blocking, so calls run on a worker thread, each with the
configured request timeout. Every PATCH names its content type: the client would
otherwise send a JSON object as a JSON Patch, which the API server rejects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import OpenApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import BaseModel, ConfigDict, Field

from setpoint.config.durations import Duration
from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, RollbackFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification

T = TypeVar("T")
new_client: Callable[..., Any] = k8s_config.new_client_from_config
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


async def api(ctx: ActionContext, error: type[ActuationError], call: Callable[[Any], T]) -> T:
    """Run ``call(api_client)`` on a thread; config and API errors become ``error``."""
    settings = ctx.integrations.kubernetes

    def run() -> T:
        path = str(settings.kubeconfig) if settings.kubeconfig else None
        with new_client(config_file=path, context=settings.context) as c:
            return call(c)

    try:
        return await asyncio.to_thread(run)
    except (OpenApiException, ConfigException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise error(f"kubernetes: {reason}") from exc


def request_opts(ctx: ActionContext) -> dict[str, Any]:
    """Keyword arguments every API call takes: the configured request timeout."""
    return {"_request_timeout": ctx.integrations.kubernetes.timeout}


class WorkloadParams(BaseModel):
    """Which namespaced object, and how long to wait for its rollout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str = Field("default", min_length=1)
    name: str = Field(min_length=1, description="the Deployment (or HPA) name")
    wait: Duration = Field(120.0, gt=0, description="time for the rollout to complete")


def rollout_state(dep: Any) -> tuple[bool, str]:
    """Whether a Deployment's rollout is complete, and its counts."""
    spec, st = dep.spec.replicas or 0, dep.status
    counts = (st.updated_replicas or 0, st.available_replicas or 0, st.replicas or 0)
    observed = (st.observed_generation or 0) >= (dep.metadata.generation or 0)
    done = observed and counts == (spec, spec, spec)
    return done, f"{counts[1]}/{spec} available, {counts[0]} updated, {counts[2]} total"


async def wait_rollout(ctx: ActionContext, ns: str, name: str, wait: float) -> Verification:
    """Poll the Deployment until its rollout completes, up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        dep = await api(
            ctx,
            VerifyFailed,
            lambda c: k8s.AppsV1Api(c).read_namespaced_deployment(name, ns, **request_opts(ctx)),
        )
        done, detail = rollout_state(dep)
        if done or time.monotonic() >= deadline:
            return Verification(done, f"deployment {ns}/{name}: {detail}", {"rollout": detail})
        await asyncio.sleep(1.0)


class K8sScale:
    """Set a Deployment's replicas (the scale subresource); rollback restores them."""

    class Config(WorkloadParams):
        """The new replica count."""

        replicas: int = Field(ge=0)

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.EXTERNAL

    def __init__(self, config: Config) -> None:
        self.config = config
        self._previous: int | None = None

    async def _scale(self, ctx: ActionContext, error: type[ActuationError], n: int | None) -> int:
        c = self.config

        def call(client: Any) -> int:
            apps = k8s.AppsV1Api(client)
            now: Any = apps.read_namespaced_deployment_scale(
                c.name, c.namespace, **request_opts(ctx)
            )
            if n is not None:
                body = {"spec": {"replicas": n}}
                apps.patch_namespaced_deployment_scale(
                    c.name, c.namespace, body, _content_type=MERGE, **request_opts(ctx)
                )
            return int(now.spec.replicas or 0)

        return await api(ctx, error, call)

    async def preview(self, ctx: ActionContext) -> str:
        """Replicas now and after."""
        c = self.config
        now = await self._scale(ctx, PreviewFailed, None)
        return f"scale deployment {c.namespace}/{c.name}: replicas {now} -> {c.replicas}"

    async def apply(self, ctx: ActionContext) -> str:
        """Read the replicas, then patch the scale."""
        c = self.config
        self._previous = await self._scale(ctx, ApplyFailed, c.replicas)
        return f"scaled deployment {c.namespace}/{c.name}: {self._previous} -> {c.replicas}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The rollout settles at the new count."""
        c = self.config
        return await wait_rollout(ctx, c.namespace, c.name, c.wait)

    async def rollback(self, ctx: ActionContext) -> str:
        """Scale back to the replicas read before :meth:`apply`."""
        c = self.config
        if self._previous is None:
            raise RollbackFailed(f"deployment {c.namespace}/{c.name}: not applied")
        await self._scale(ctx, RollbackFailed, self._previous)
        return f"scaled deployment {c.namespace}/{c.name} back to {self._previous}"


class K8sHpaBounds:
    """Patch a HorizontalPodAutoscaler's ``minReplicas``/``maxReplicas``; rollback restores."""

    class Config(WorkloadParams):
        """The new bounds; unset ones stay."""

        min_replicas: int | None = Field(None, ge=1)
        max_replicas: int | None = Field(None, ge=1)

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.EXTERNAL

    def __init__(self, config: Config) -> None:
        self.config = config
        self._previous: dict[str, int | None] | None = None

    def _wanted(self) -> dict[str, int]:
        c = self.config
        pairs = (("minReplicas", c.min_replicas), ("maxReplicas", c.max_replicas))
        return {k: v for k, v in pairs if v is not None}

    async def _bounds(
        self, ctx: ActionContext, error: type[ActuationError], spec: dict[str, Any] | None
    ) -> dict[str, int | None]:
        c = self.config

        def call(client: Any) -> dict[str, int | None]:
            hpa_api = k8s.AutoscalingV2Api(client)
            hpa: Any = hpa_api.read_namespaced_horizontal_pod_autoscaler(
                c.name, c.namespace, **request_opts(ctx)
            )
            if spec is not None:
                hpa_api.patch_namespaced_horizontal_pod_autoscaler(
                    c.name, c.namespace, {"spec": spec}, _content_type=MERGE, **request_opts(ctx)
                )
            return {"minReplicas": hpa.spec.min_replicas, "maxReplicas": hpa.spec.max_replicas}

        return await api(ctx, error, call)

    async def preview(self, ctx: ActionContext) -> str:
        """Bounds now and after."""
        now = await self._bounds(ctx, PreviewFailed, None)
        return f"patch hpa {self.config.namespace}/{self.config.name}: {now} -> {self._wanted()}"

    async def apply(self, ctx: ActionContext) -> str:
        """Read the bounds, then merge-patch the new ones."""
        self._previous = await self._bounds(ctx, ApplyFailed, self._wanted())
        return (
            f"hpa {self.config.namespace}/{self.config.name}: {self._previous} -> {self._wanted()}"
        )

    async def verify(self, ctx: ActionContext) -> Verification:
        """The HPA holds the new bounds."""
        now = await self._bounds(ctx, VerifyFailed, None)
        ok = all(now[k] == v for k, v in self._wanted().items())
        return Verification(ok, f"hpa bounds now {now}", dict(now))

    async def rollback(self, ctx: ActionContext) -> str:
        """Patch the previous bounds back (a null minReplicas means the default, 1)."""
        if self._previous is None:
            raise RollbackFailed(f"hpa {self.config.namespace}/{self.config.name}: not applied")
        prev = {k: self._previous[k] for k in self._wanted()}
        await self._bounds(ctx, RollbackFailed, prev)
        return f"hpa {self.config.namespace}/{self.config.name}: restored {prev}"


class K8sRolloutRestart:
    """Restart a Deployment's pods the way ``kubectl rollout restart`` does.

    It stamps ``kubectl.kubernetes.io/restartedAt`` on the pod template, so the
    controller replaces the pods under the Deployment's own rollout strategy.
    """

    class Config(WorkloadParams):
        """Which Deployment."""

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.EXTERNAL

    def __init__(self, config: Config) -> None:
        self.config = config

    async def preview(self, ctx: ActionContext) -> str:
        """The Deployment and its rollout state now."""
        c = self.config
        dep = await api(
            ctx,
            PreviewFailed,
            lambda cl: k8s.AppsV1Api(cl).read_namespaced_deployment(
                c.name, c.namespace, **request_opts(ctx)
            ),
        )
        return f"rollout restart deployment {c.namespace}/{c.name} ({rollout_state(dep)[1]})"

    async def apply(self, ctx: ActionContext) -> str:
        """Patch the restartedAt annotation onto the pod template."""
        c = self.config
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        annotations = {"kubectl.kubernetes.io/restartedAt": stamp}
        body = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
        await api(
            ctx,
            ApplyFailed,
            lambda cl: k8s.AppsV1Api(cl).patch_namespaced_deployment(
                c.name, c.namespace, body, _content_type=MERGE, **request_opts(ctx)
            ),
        )
        return f"rollout restart of deployment {c.namespace}/{c.name} at {stamp}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """The new rollout completes."""
        c = self.config
        return await wait_rollout(ctx, c.namespace, c.name, c.wait)
