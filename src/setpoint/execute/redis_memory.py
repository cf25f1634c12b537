"""Redis memory actuators: ``redis.config_set`` (maxmemory, policy) and ``redis.memory_purge``."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ByteSize, Field, model_validator
from redis.asyncio import Redis

from setpoint.errors import ApplyFailed, PreviewFailed, RollbackFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification
from setpoint.execute.redis import RedisParams, connect

MaxmemoryPolicy = Literal[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]


class ConfigSet:
    """CONFIG SET ``maxmemory`` and/or ``maxmemory-policy``; rollback restores both.

    >>> ConfigSet.Config(instance="cache", maxmemory="64MiB").wanted()
    {'maxmemory': '67108864'}
    """

    class Config(RedisParams):
        """The new values; give at least one."""

        maxmemory: ByteSize | None = Field(None, description="bytes or e.g. 512MiB; 0: none")
        maxmemory_policy: MaxmemoryPolicy | None = None

        @model_validator(mode="after")
        def _something(self) -> ConfigSet.Config:
            if self.maxmemory is None and self.maxmemory_policy is None:
                raise ValueError("give maxmemory, maxmemory_policy or both")
            return self

        def wanted(self) -> dict[str, str]:
            """The parameters to set, as CONFIG GET reports them."""
            out = {}
            if self.maxmemory is not None:
                out["maxmemory"] = str(int(self.maxmemory))
            if self.maxmemory_policy is not None:
                out["maxmemory-policy"] = self.maxmemory_policy
            return out

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config) -> None:
        self.config = config
        self._previous: dict[str, str] | None = None

    async def _get(self, client: Redis) -> dict[str, str]:
        got = await client.config_get(*self.config.wanted())
        return {str(k): str(v) for k, v in got.items()}

    @staticmethod
    async def _set(client: Redis, values: dict[str, str]) -> None:
        pairs: list[str] = [item for kv in values.items() for item in kv]
        await client.config_set(*pairs)

    async def preview(self, ctx: ActionContext) -> str:
        """Each parameter's value now and the one it would get."""
        c = self.config
        async with connect(ctx, c.instance, PreviewFailed, c.timeout) as client:
            now = await self._get(client)
        changes = ", ".join(f"{k} {now.get(k)} -> {v}" for k, v in c.wanted().items())
        return f"CONFIG SET on {c.instance}: {changes}"

    async def apply(self, ctx: ActionContext) -> str:
        """Read the current values with CONFIG GET, then set the new ones at once."""
        c = self.config
        async with connect(ctx, c.instance, ApplyFailed, c.timeout) as client:
            self._previous = await self._get(client)
            await self._set(client, c.wanted())
        changes = ", ".join(f"{k} {self._previous.get(k)} -> {v}" for k, v in c.wanted().items())
        return f"CONFIG SET on {c.instance}: {changes}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """CONFIG GET reports the new values."""
        c = self.config
        async with connect(ctx, c.instance, VerifyFailed, c.timeout) as client:
            now = await self._get(client)
        ok = now == c.wanted()
        return Verification(ok, f"now {now}", dict(now))

    async def rollback(self, ctx: ActionContext) -> str:
        """Set the values read before :meth:`apply` again."""
        c = self.config
        if self._previous is None:
            raise RollbackFailed(f"redis {c.instance}: nothing to roll back (not applied)")
        async with connect(ctx, c.instance, RollbackFailed, c.timeout) as client:
            await self._set(client, self._previous)
        return f"CONFIG SET on {c.instance}: restored {self._previous}"


class MemoryPurge:
    """MEMORY PURGE: ask the allocator (jemalloc) to return dirty pages to the OS."""

    class Config(RedisParams):
        """Which instance."""

    risk: ClassVar[Risk] = Risk.SAFE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config) -> None:
        self.config = config
        self._rss_before: int | None = None

    @staticmethod
    async def _memory(client: Redis) -> dict[str, Any]:
        info = await client.info("memory")
        keys = ("used_memory", "used_memory_rss", "mem_allocator", "mem_fragmentation_ratio")
        return {k: info.get(k) for k in keys}

    async def preview(self, ctx: ActionContext) -> str:
        """The allocator, RSS and fragmentation now."""
        c = self.config
        async with connect(ctx, c.instance, PreviewFailed, c.timeout) as client:
            mem = await self._memory(client)
        return f"MEMORY PURGE on {c.instance}: {mem}"

    async def apply(self, ctx: ActionContext) -> str:
        """Purge, recording RSS before."""
        c = self.config
        async with connect(ctx, c.instance, ApplyFailed, c.timeout) as client:
            before = await self._memory(client)
            self._rss_before = before["used_memory_rss"]
            if not await client.memory_purge():
                raise ApplyFailed(f"redis {c.instance}: MEMORY PURGE was refused")
        return f"MEMORY PURGE on {c.instance} ({before['mem_allocator']})"

    async def verify(self, ctx: ActionContext) -> Verification:
        """Report RSS before and after; the purge itself was acknowledged by the server."""
        c = self.config
        async with connect(ctx, c.instance, VerifyFailed, c.timeout) as client:
            after = await self._memory(client)
        measured = {"rss_before": self._rss_before, "rss_after": after["used_memory_rss"]}
        return Verification(True, f"rss {self._rss_before} -> {after['used_memory_rss']}", measured)
