"""Redis actuators against the real server at 127.0.0.1:6379.

Every key lives under a prefix unique to the test and is removed at the end; the
server's ``maxmemory`` and ``maxmemory-policy`` are read first and restored at the
end whatever happens.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from setpoint.config.integrations import IntegrationsConfig
from setpoint.errors import ApplyFailed, PreviewFailed
from setpoint.execute.base import ActionContext
from setpoint.execute.redis import DeletePattern, WarmKeys
from setpoint.execute.redis_memory import ConfigSet, MemoryPurge

URL = "redis://127.0.0.1:6379/0"
MEMORY_KEYS = ("maxmemory", "maxmemory-policy")


@dataclass
class Rig:
    client: Redis
    prefix: str
    ctx: ActionContext


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    client = Redis.from_url(URL, decode_responses=True, socket_timeout=5)
    try:
        saved = await client.config_get(*MEMORY_KEYS)
    except RedisConnectionError as exc:
        await client.aclose()
        pytest.skip(f"no Redis at 127.0.0.1:6379: {exc}")
    prefix = f"sp_act:{secrets.token_hex(4)}:"
    integrations = IntegrationsConfig.model_validate({"redis": {"main": {"url": URL}}})
    try:
        yield Rig(client, prefix, ActionContext(f"redis:{prefix}", integrations=integrations))
    finally:
        await client.config_set(*[str(x) for kv in saved.items() for x in kv])
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.unlink(*keys)
        await client.aclose()


async def test_delete_pattern_scans_and_unlinks_in_batches(rig: Rig) -> None:
    await rig.client.mset({f"{rig.prefix}session:{i}": "x" for i in range(1234)})
    await rig.client.set(f"{rig.prefix}keep", "1")
    action = DeletePattern(
        DeletePattern.Config(instance="main", pattern=f"{rig.prefix}session:*", batch=100)
    )

    assert "UNLINK 1234 key(s)" in await action.preview(rig.ctx)
    assert await rig.client.exists(f"{rig.prefix}session:0") == 1, "preview changes nothing"
    assert await action.apply(rig.ctx) == f"unlinked 1234 key(s) matching '{rig.prefix}session:*'"
    check = await action.verify(rig.ctx)
    assert check.ok and check.measurements == {"left": 0}
    assert await rig.client.get(f"{rig.prefix}keep") == "1"


async def test_delete_pattern_stops_at_max_keys(rig: Rig) -> None:
    await rig.client.mset({f"{rig.prefix}k:{i}": "x" for i in range(50)})
    action = DeletePattern(
        DeletePattern.Config(instance="main", pattern=f"{rig.prefix}k:*", batch=7, max_keys=20)
    )
    assert "more than 20" in await action.preview(rig.ctx)
    assert "unlinked 20 key(s)" in await action.apply(rig.ctx)
    check = await action.verify(rig.ctx)
    assert not check.ok and check.measurements["left"] == 21  # counting stops past max_keys


async def test_config_set_and_rollback_restore_previous_values(rig: Rig) -> None:
    before = await rig.client.config_get(*MEMORY_KEYS)
    action = ConfigSet(
        ConfigSet.Config(instance="main", maxmemory="512MiB", maxmemory_policy="allkeys-lru")
    )
    assert "maxmemory-policy" in await action.preview(rig.ctx)
    await action.apply(rig.ctx)
    assert await rig.client.config_get(*MEMORY_KEYS) == {
        "maxmemory": str(512 * 1024 * 1024),
        "maxmemory-policy": "allkeys-lru",
    }
    assert (await action.verify(rig.ctx)).ok
    await action.rollback(rig.ctx)
    assert await rig.client.config_get(*MEMORY_KEYS) == before


async def test_config_set_refused_by_the_server_is_apply_failed(rig: Rig) -> None:
    action = ConfigSet(ConfigSet.Config(instance="main", maxmemory_policy="allkeys-lru"))
    await rig.client.config_set("maxmemory-policy", "noeviction")
    bad = ActionContext(
        "redis:x",
        integrations=IntegrationsConfig.model_validate(
            {"redis": {"main": {"url": "redis://127.0.0.1:1/0", "connect_timeout": "500ms"}}}
        ),
    )
    with pytest.raises(ApplyFailed, match=r"redis redis://127\.0\.0\.1:1/0"):
        await action.apply(bad)
    assert await rig.client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}


async def test_memory_purge(rig: Rig) -> None:
    action = MemoryPurge(MemoryPurge.Config(instance="main"))
    assert "jemalloc" in await action.preview(rig.ctx) or "libc" in await action.preview(rig.ctx)
    assert "MEMORY PURGE on main" in await action.apply(rig.ctx)
    check = await action.verify(rig.ctx)
    assert check.ok and check.measurements["rss_before"] > 0


async def test_warm_keys_fills_only_missing_keys_and_rollback_removes_them(
    rig: Rig, tmp_path: Path
) -> None:
    p = rig.prefix
    source = tmp_path / "warm.json"
    source.write_text(json.dumps({f"{p}a": "1", f"{p}b": "2", f"{p}c": "3"}))
    await rig.client.set(f"{p}a", "already")
    action = WarmKeys(WarmKeys.Config(instance="main", file=source, ttl="1h"))

    assert "SET NX 2 missing of 3 key(s)" in await action.preview(rig.ctx)
    assert "set 2 of 3 key(s)" in await action.apply(rig.ctx)
    assert await rig.client.mget(f"{p}a", f"{p}b", f"{p}c") == ["already", "2", "3"]
    assert 0 < await rig.client.ttl(f"{p}b") <= 3600
    assert (await action.verify(rig.ctx)).ok
    assert await action.rollback(rig.ctx) == "unlinked 2 warmed key(s)"
    assert await rig.client.mget(f"{p}a", f"{p}b") == ["already", None]

    source.write_text("[1, 2]")
    with pytest.raises(PreviewFailed, match="one JSON object of string values"):
        await action.preview(rig.ctx)
