"""Redis key actuators: ``redis.delete_pattern`` and ``redis.warm_keys``.

Keys are found with SCAN (never KEYS, which blocks the server for the whole keyspace)
and removed with UNLINK (freed in the background), in batches.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError

from setpoint.config.durations import Duration
from setpoint.errors import ActuationError, ApplyFailed, PreviewFailed, RollbackFailed, VerifyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification


@asynccontextmanager
async def connect(
    ctx: ActionContext, instance: str, error: type[ActuationError], timeout: float
) -> AsyncIterator[Redis]:
    """A client of the named instance; Redis errors inside the block become ``error``."""
    settings = ctx.integrations.redis.get(instance)
    if settings is None:
        known = ", ".join(sorted(ctx.integrations.redis)) or "none"
        raise error(f"no integrations.redis instance {instance!r} (known: {known})")
    client = Redis.from_url(
        settings.secret_url,
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=timeout,
        decode_responses=True,
    )
    try:
        yield client
    except RedisError as exc:
        raise error(f"redis {settings.display}: {exc}") from exc
    finally:
        await client.aclose()


class RedisParams(BaseModel):
    """Parameters every Redis actuator takes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance: str = Field(min_length=1, description="integrations.redis name")
    timeout: Duration = Field(10.0, gt=0, description="per command")


class DeletePattern:
    """Delete every key matching a glob pattern: SCAN, then UNLINK in batches.

    Destructive: there is no inverse. A pattern of wildcards alone is refused.

    >>> from pydantic import ValidationError
    >>> try:
    ...     DeletePattern.Config(instance="cache", pattern="*")
    ... except ValidationError as exc:
    ...     print(exc.errors()[0]["msg"])
    Value error, '*' would match every key
    """

    class Config(RedisParams):
        """The pattern, and how much to do per round trip and at most."""

        pattern: str = Field(min_length=1, description="SCAN MATCH glob, e.g. session:*")
        batch: int = Field(500, ge=1, le=10_000, description="SCAN COUNT and keys per UNLINK")
        max_keys: int = Field(1_000_000, ge=1, description="stop after this many")

        @field_validator("pattern")
        @classmethod
        def _not_everything(cls, value: str) -> str:
            if re.fullmatch(r"[*?]+", value):
                raise ValueError(f"{value!r} would match every key")
            return value

    risk: ClassVar[Risk] = Risk.DESTRUCTIVE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config) -> None:
        self.config = config

    async def _count(self, client: Redis) -> int:
        c = self.config
        found = 0
        async for _ in client.scan_iter(match=c.pattern, count=c.batch):
            found += 1
            if found > c.max_keys:
                break
        return found

    async def preview(self, ctx: ActionContext) -> str:
        """How many keys match now."""
        c = self.config
        async with connect(ctx, c.instance, PreviewFailed, c.timeout) as client:
            found = await self._count(client)
        more = f"more than {c.max_keys} (only {c.max_keys} would go)" if found > c.max_keys else ""
        return f"UNLINK {more or found} key(s) matching {c.pattern!r} in batches of {c.batch}"

    async def apply(self, ctx: ActionContext) -> str:
        """Scan and unlink, ``batch`` keys at a time, up to ``max_keys``."""
        c = self.config
        deleted = seen = 0
        pending: list[str] = []
        async with connect(ctx, c.instance, ApplyFailed, c.timeout) as client:
            async for key in client.scan_iter(match=c.pattern, count=c.batch):
                pending.append(key)
                seen += 1
                if len(pending) >= c.batch or seen >= c.max_keys:
                    deleted += await client.unlink(*pending)
                    pending.clear()
                if seen >= c.max_keys:
                    break
            if pending:
                deleted += await client.unlink(*pending)
        return f"unlinked {deleted} key(s) matching {c.pattern!r}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """No key matches any more."""
        c = self.config
        async with connect(ctx, c.instance, VerifyFailed, c.timeout) as client:
            left = await self._count(client)
        return Verification(left == 0, f"{left} key(s) still match {c.pattern!r}", {"left": left})


class WarmKeys:
    """Fill missing keys from a JSON file ``{"key": "value", ...}`` (SET NX, optional TTL).

    Keys already present are left alone; rollback unlinks only the keys this action set.
    """

    class Config(RedisParams):
        """Where the values come from."""

        file: Path = Field(description="JSON object of string keys to string values")
        ttl: Duration | None = Field(None, gt=0, description="expiry of the keys set")

    risk: ClassVar[Risk] = Risk.SAFE
    blast: ClassVar[Blast] = Blast.SERVICE

    def __init__(self, config: Config) -> None:
        self.config = config
        self._created: list[str] = []
        self._keys: list[str] = []

    def _values(self, error: type[ActuationError]) -> dict[str, str]:
        path = self.config.file
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise error(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise error(f"{path} must hold one JSON object of string values")
        return data

    async def preview(self, ctx: ActionContext) -> str:
        """How many of the file's keys are missing and would be set."""
        c = self.config
        values = self._values(PreviewFailed)
        async with connect(ctx, c.instance, PreviewFailed, c.timeout) as client:
            present = await client.exists(*values) if values else 0
        return f"SET NX {len(values) - present} missing of {len(values)} key(s) from {c.file}"

    async def apply(self, ctx: ActionContext) -> str:
        """SET NX every key of the file in one pipeline."""
        c = self.config
        values = self._values(ApplyFailed)
        self._keys = list(values)
        px = int(c.ttl * 1000) if c.ttl is not None else None
        async with (
            connect(ctx, c.instance, ApplyFailed, c.timeout) as client,
            client.pipeline(transaction=False) as pipe,
        ):
            for key, value in values.items():
                pipe.set(key, value, nx=True, px=px)
            results = await pipe.execute()
        self._created = [k for k, done in zip(self._keys, results, strict=True) if done]
        return f"set {len(self._created)} of {len(values)} key(s) from {c.file}"

    async def verify(self, ctx: ActionContext) -> Verification:
        """Every key of the file exists."""
        c = self.config
        async with connect(ctx, c.instance, VerifyFailed, c.timeout) as client:
            present = await client.exists(*self._keys) if self._keys else 0
        ok = present == len(self._keys)
        return Verification(
            ok, f"{present} of {len(self._keys)} key(s) present", {"present": present}
        )

    async def rollback(self, ctx: ActionContext) -> str:
        """Unlink the keys this action created."""
        c = self.config
        async with connect(ctx, c.instance, RollbackFailed, c.timeout) as client:
            gone = await client.unlink(*self._created) if self._created else 0
        return f"unlinked {gone} warmed key(s)"
