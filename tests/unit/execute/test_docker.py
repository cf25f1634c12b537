"""Docker actuators against a FAKE Docker Engine: no engine can run on this machine.

The fake (:mod:`tests.unit.execute.replay`) is a local HTTP server on 127.0.0.1 that
replays JSON documents in ``tests/fixtures/docker/`` written in the shape of Engine API
v1.47 responses (``GET /version``, ``GET /containers/{id}/json``, ``POST .../update``; ``POST
.../restart`` answers 204). The real docker SDK talks to it, and the tests assert the
requests the SDK sent: method, path, query and body.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from setpoint.config.integrations import IntegrationsConfig
from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed
from setpoint.execute.base import ActionContext
from setpoint.execute.docker import DockerRestart, DockerUpdate
from tests.unit.execute.replay import ReplayServer, Reply, serve

V = r"/v1\.\d+"
INSPECT = V + "/containers/web/json"


@pytest.fixture
def engine() -> Iterator[ReplayServer]:
    with serve(ReplayServer()) as fake:
        fake.route("GET", "/version", Reply.fixture("docker/version.json"))
        yield fake


def ctx_for(fake: ReplayServer) -> ActionContext:
    tcp = fake.url.replace("http://", "tcp://")
    integrations = IntegrationsConfig.model_validate({"docker": {"url": tcp, "timeout": 5}})
    return ActionContext("container:web", integrations=integrations)


async def test_restart_posts_restart_and_waits_for_a_new_start(engine: ReplayServer) -> None:
    engine.route(
        "GET",
        INSPECT,
        Reply.fixture("docker/container_web.json"),
        Reply.fixture("docker/container_web.json"),
        Reply.fixture("docker/container_web_restarted.json"),
    )
    engine.route("POST", V + "/containers/web/restart", Reply(204))
    ctx = ctx_for(engine)
    action = DockerRestart(DockerRestart.Config(container="web", stop_timeout=7))

    preview = await action.preview(ctx)
    assert preview.startswith("restart container web (8dfafdbc3a40, nginx:1.27, running since")
    assert not engine.sent("POST", V + "/containers/web/restart")
    assert "had started 2026-11-20T09:12:04" in await action.apply(ctx)
    (restart,) = engine.sent("POST", V + "/containers/web/restart")
    assert restart.query == {"t": ["7"]}
    check = await action.verify(ctx)
    assert check.ok and check.measurements["started_at"].startswith("2026-11-22T10:01:17")


async def test_update_sends_limits_and_rollback_sends_the_previous(engine: ReplayServer) -> None:
    engine.route(
        "GET",
        INSPECT,
        Reply.fixture("docker/container_web.json"),
        Reply.fixture("docker/container_web_updated.json"),
    )
    engine.route(
        "POST", V + "/containers/web/update", Reply.fixture("docker/container_update.json")
    )
    ctx = ctx_for(engine)
    action = DockerUpdate(DockerUpdate.Config(container="web", cpus=0.5, memory="256MiB"))

    await action.apply(ctx)
    (update,) = engine.sent("POST", V + "/containers/web/update")
    # the container had 512 MiB + 512 MiB swap: the swap allowance is kept
    assert update.body == {
        "CpuPeriod": 100000,
        "CpuQuota": 50000,
        "Memory": 268435456,
        "MemorySwap": 805306368,
    }
    check = await action.verify(ctx)
    assert check.ok, check.detail

    await action.rollback(ctx)
    restore = engine.sent("POST", V + "/containers/web/update")[1]
    # no CPU quota before: restored as -1 (the engine reads 0 as "unchanged")
    assert restore.body == {"CpuQuota": -1, "Memory": 536870912, "MemorySwap": 1073741824}


async def test_rollback_of_a_first_memory_limit_says_why_it_cannot(engine: ReplayServer) -> None:
    unlimited = Reply.fixture("docker/container_web.json")
    unlimited.body["HostConfig"] |= {"Memory": 0, "MemorySwap": 0}
    engine.route("GET", INSPECT, unlimited)
    engine.route(
        "POST", V + "/containers/web/update", Reply.fixture("docker/container_update.json")
    )
    action = DockerUpdate(DockerUpdate.Config(container="web", memory="256MiB"))
    await action.apply(ctx_for(engine))
    assert engine.sent("POST", V + "/containers/web/update")[0].body == {
        "Memory": 268435456,
        "MemorySwap": 536870912,
    }
    with pytest.raises(RollbackFailed, match="cannot lift one by update"):
        await action.rollback(ctx_for(engine))


async def test_missing_container_is_a_clear_error(engine: ReplayServer) -> None:
    engine.route(
        "GET", V + "/containers/ghost/json", Reply.fixture("docker/no_such_container.json", 404)
    )
    action = DockerRestart(DockerRestart.Config(container="ghost"))
    with pytest.raises(PreviewFailed, match="No such container: ghost"):
        await action.preview(ctx_for(engine))
    with pytest.raises(ApplyFailed, match="No such container: ghost"):
        await action.apply(ctx_for(engine))
    assert not engine.sent("POST", V + "/containers/ghost/restart")
