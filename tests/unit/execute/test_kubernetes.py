"""Kubernetes actuators against a FAKE API server: no cluster can run on this machine.

The fake (:mod:`tests.unit.execute.replay`) is a local HTTP server on 127.0.0.1,
named in a kubeconfig written by the test; it replays JSON documents in
``tests/fixtures/k8s/`` written in the shape of Kubernetes v1.31 API responses. The
real ``kubernetes`` client talks to it, and the tests assert what it sent: every PATCH
body and its Content-Type, and the Eviction bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.config.integrations import IntegrationsConfig
from setpoint.errors import ApplyFailed
from setpoint.execute.base import ActionContext, Risk
from setpoint.execute.kubernetes import K8sHpaBounds, K8sRolloutRestart, K8sScale
from setpoint.execute.kubernetes_nodes import K8sCordon, K8sDrain
from setpoint.execute.kubernetes_resources import K8sSetResources
from tests.unit.execute.replay import ReplayServer, Reply, serve

DEP = "/apis/apps/v1/namespaces/default/deployments/web"
HPA = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web"
NODE = "/api/v1/nodes/n1"
PODS = "/api/v1/pods"
MERGE = "application/merge-patch+json"
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "{url}"}}}}]
users: [{{name: setpoint, user: {{token: fake-token}}}}]
contexts: [{{name: fake, context: {{cluster: fake, user: setpoint}}}}]
current-context: fake
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[ReplayServer, ActionContext]]:
    with serve(ReplayServer()) as fake:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(KUBECONFIG.format(url=fake.url))
        integrations = IntegrationsConfig.model_validate(
            {"kubernetes": {"kubeconfig": str(kubeconfig), "context": "fake", "timeout": 5}}
        )
        yield fake, ActionContext("deployment:default/web", integrations=integrations)


def patches(fake: ReplayServer, path: str) -> list[tuple[str, object]]:
    return [(r.headers["content-type"], r.body) for r in fake.sent("PATCH", path)]


async def test_scale_patches_replicas_and_rolls_back(
    api: tuple[ReplayServer, ActionContext],
) -> None:
    fake, ctx = api
    fake.route("GET", DEP + "/scale", Reply.fixture("k8s/scale_web.json"))
    fake.route("PATCH", DEP + "/scale", Reply.fixture("k8s/scale_web_5.json"))
    fake.route(
        "GET",
        DEP,
        Reply.fixture("k8s/deployment_web_scaling.json"),
        Reply.fixture("k8s/deployment_web_scaled.json"),
    )
    action = K8sScale(K8sScale.Config(name="web", replicas=5, wait=10))

    assert await action.preview(ctx) == "scale deployment default/web: replicas 3 -> 5"
    assert not fake.sent("PATCH", DEP + "/scale")
    await action.apply(ctx)
    assert patches(fake, DEP + "/scale") == [(MERGE, {"spec": {"replicas": 5}})]
    assert fake.requests[-1].headers["authorization"] == "Bearer fake-token"
    check = await action.verify(ctx)
    assert check.ok and check.detail == "deployment default/web: 5/5 available, 5 updated, 5 total"
    await action.rollback(ctx)
    assert patches(fake, DEP + "/scale")[1] == (MERGE, {"spec": {"replicas": 3}})


async def test_hpa_bounds_patch_and_rollback(api: tuple[ReplayServer, ActionContext]) -> None:
    fake, ctx = api
    fake.route(
        "GET",
        HPA,
        Reply.fixture("k8s/hpa_web.json"),
        Reply.fixture("k8s/hpa_web.json"),
        Reply.fixture("k8s/hpa_web_4_20.json"),
    )
    fake.route("PATCH", HPA, Reply.fixture("k8s/hpa_web_4_20.json"))
    action = K8sHpaBounds(K8sHpaBounds.Config(name="web", min_replicas=4, max_replicas=20))

    assert "{'minReplicas': 2, 'maxReplicas': 10} -> {'minReplicas': 4" in await action.preview(ctx)
    await action.apply(ctx)
    assert (await action.verify(ctx)).ok
    await action.rollback(ctx)
    assert patches(fake, HPA) == [
        (MERGE, {"spec": {"minReplicas": 4, "maxReplicas": 20}}),
        (MERGE, {"spec": {"minReplicas": 2, "maxReplicas": 10}}),
    ]


async def test_rollout_restart_stamps_the_pod_template(
    api: tuple[ReplayServer, ActionContext],
) -> None:
    fake, ctx = api
    fake.route("GET", DEP, Reply.fixture("k8s/deployment_web.json"))
    fake.route("PATCH", DEP, Reply.fixture("k8s/deployment_web.json"))
    action = K8sRolloutRestart(K8sRolloutRestart.Config(name="web"))

    assert "3/3 available" in await action.preview(ctx)
    await action.apply(ctx)
    ((ctype, body),) = patches(fake, DEP)
    assert ctype == MERGE
    annotations = body["spec"]["template"]["metadata"]["annotations"]  # type: ignore[index]
    assert list(annotations) == ["kubectl.kubernetes.io/restartedAt"]
    assert (await action.verify(ctx)).ok


async def test_set_resources_is_an_exact_json_patch_both_ways(
    api: tuple[ReplayServer, ActionContext],
) -> None:
    fake, ctx = api
    updated = Reply.fixture("k8s/deployment_web.json")
    updated.body["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"memory": "256Mi", "cpu": "500m"},
        "requests": {"cpu": "100m", "memory": "128Mi"},
    }
    fake.route("GET", DEP, Reply.fixture("k8s/deployment_web.json"), updated)
    fake.route("PATCH", DEP, updated)
    action = K8sSetResources(
        K8sSetResources.Config(name="web", container="app", limits={"cpu": "500m"}, wait=5)
    )

    await action.apply(ctx)
    assert (await action.verify(ctx)).ok
    await action.rollback(ctx)
    test_name = {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "app"}
    path = "/spec/template/spec/containers/0/resources"
    assert patches(fake, DEP) == [
        (
            "application/json-patch+json",
            [
                test_name,
                {
                    "op": "replace",
                    "path": path,
                    "value": updated.body["spec"]["template"]["spec"]["containers"][0]["resources"],
                },
            ],
        ),
        (
            "application/json-patch+json",
            [
                test_name,
                {
                    "op": "replace",
                    "path": path,
                    "value": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"memory": "256Mi"},
                    },
                },
            ],
        ),
    ]
    ghost = K8sSetResources(K8sSetResources.Config(name="web", container="db", limits={"cpu": "1"}))
    with pytest.raises(ApplyFailed, match=r"no container 'db' .containers: app, sidecar"):
        await ghost.apply(ctx)


async def test_cordon_and_uncordon(api: tuple[ReplayServer, ActionContext]) -> None:
    fake, ctx = api
    fake.route(
        "GET",
        NODE,
        Reply.fixture("k8s/node_n1.json"),
        Reply.fixture("k8s/node_n1.json"),
        Reply.fixture("k8s/node_n1_cordoned.json"),
    )
    fake.route("PATCH", NODE, Reply.fixture("k8s/node_n1_cordoned.json"))
    action = K8sCordon(K8sCordon.Config(node="n1"))

    assert await action.preview(ctx) == "cordon node n1 (schedulable)"
    await action.apply(ctx)
    assert (await action.verify(ctx)).ok
    assert await action.rollback(ctx) == "uncordoned node n1"
    assert patches(fake, NODE) == [
        (MERGE, {"spec": {"unschedulable": True}}),
        (MERGE, {"spec": {"unschedulable": False}}),
    ]


async def test_drain_evicts_controller_pods_only_and_is_destructive(
    api: tuple[ReplayServer, ActionContext],
) -> None:
    fake, ctx = api
    assert K8sDrain.risk is Risk.DESTRUCTIVE and K8sCordon.risk is Risk.DISRUPTIVE
    fake.route(
        "GET",
        PODS,
        Reply.fixture("k8s/pods_on_n1.json"),
        Reply.fixture("k8s/pods_on_n1.json"),
        Reply.fixture("k8s/pods_on_n1_drained.json"),
    )
    fake.route("GET", NODE, Reply.fixture("k8s/node_n1.json"))
    fake.route("PATCH", NODE, Reply.fixture("k8s/node_n1_cordoned.json"))
    eviction = "/api/v1/namespaces/default/pods/web-7c9f8d6b5-x2k9q/eviction"
    fake.route(
        "POST",
        eviction,
        Reply.fixture("k8s/eviction_pdb_refused.json", 429),
        Reply.fixture("k8s/eviction_created.json", 201),
    )
    action = K8sDrain(K8sDrain.Config(node="n1", timeout=10))

    assert "evict 1 pod(s): default/web-7c9f8d6b5-x2k9q" in await action.preview(ctx)
    assert await action.apply(ctx) == "cordoned node n1 and evicted 1 pod(s)"
    assert fake.sent("GET", PODS)[0].query == {"fieldSelector": ["spec.nodeName=n1"]}
    sent = fake.sent("POST", eviction)
    assert len(sent) == 2, "the disruption budget's 429 is retried"
    assert sent[0].body == {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "web-7c9f8d6b5-x2k9q", "namespace": "default"},
    }
    assert (await action.verify(ctx)).ok


async def test_drain_refuses_bare_and_emptydir_pods_before_touching_anything(
    api: tuple[ReplayServer, ActionContext],
) -> None:
    fake, ctx = api
    fake.route("GET", PODS, Reply.fixture("k8s/pods_on_n1_with_bare_pod.json"))
    action = K8sDrain(K8sDrain.Config(node="n1"))
    with pytest.raises(
        ApplyFailed, match=r"debug-shell has no controller.*debug-shell uses emptyDir"
    ):
        await action.apply(ctx)
    assert not fake.sent("PATCH", NODE) and not [r for r in fake.requests if r.method == "POST"]
