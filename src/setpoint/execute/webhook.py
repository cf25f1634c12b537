"""``webhook.call``: one HTTP request with a timeout; status and body tail recorded.

The method, URL, JSON body and headers are typed parameters from the configuration;
header values are secrets (redacted in every repr and preview).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from setpoint.config.durations import Duration
from setpoint.errors import ApplyFailed
from setpoint.execute.base import ActionContext, Blast, Risk, Verification


class WebhookCall:
    """Send the request; it succeeds on a status in ``ok_status`` (default any 2xx)."""

    class Config(BaseModel):
        """The request."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        url: str
        method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
        json_body: Any = Field(None, alias="json", description="sent as the JSON body")
        headers: dict[str, SecretStr] = Field(default_factory=dict)
        timeout: Duration = Field(10.0, gt=0)
        ok_status: list[int] | None = Field(None, description="default: any 2xx")
        tail: int = Field(2000, ge=0, le=1_000_000, description="response bytes recorded")

        @field_validator("url")
        @classmethod
        def _http(cls, value: str) -> str:
            if not value.startswith(("http://", "https://")):
                raise ValueError("must be an http:// or https:// URL")
            return value

    risk: ClassVar[Risk] = Risk.DISRUPTIVE
    blast: ClassVar[Blast] = Blast.EXTERNAL

    def __init__(self, config: Config) -> None:
        self.config = config
        self.status: int | None = None
        self.body = ""
        self.took = 0.0

    def _ok(self, status: int) -> bool:
        allowed = self.config.ok_status
        return 200 <= status < 300 if allowed is None else status in allowed

    async def preview(self, ctx: ActionContext) -> str:
        """Method, URL, header names (not values) and body size."""
        cfg = self.config
        headers = f" headers {sorted(cfg.headers)}" if cfg.headers else ""
        body = " with a JSON body" if cfg.json_body is not None else ""
        return f"{cfg.method} {cfg.url}{body}{headers} (timeout {cfg.timeout:g}s)"

    async def apply(self, ctx: ActionContext) -> str:
        """Send it; a transport error or an unexpected status raises ApplyFailed."""
        cfg = self.config
        headers = {k: v.get_secret_value() for k, v in cfg.headers.items()}
        started = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=cfg.timeout) as client:
                response = await client.request(
                    cfg.method, cfg.url, json=cfg.json_body, headers=headers
                )
        except httpx.HTTPError as exc:
            raise ApplyFailed(f"{cfg.method} {cfg.url}: {type(exc).__name__}: {exc}") from exc
        self.took = time.monotonic() - started
        self.status = response.status_code
        self.body = response.text[-cfg.tail :] if cfg.tail else ""
        summary = f"{cfg.method} {cfg.url} -> {self.status} in {self.took:.3f}s"
        if not self._ok(self.status):
            raise ApplyFailed(f"{summary}: {self.body.strip()}")
        return summary

    async def verify(self, ctx: ActionContext) -> Verification:
        """The status was an expected one; status and body tail are recorded."""
        ok = self.status is not None and self._ok(self.status)
        return Verification(
            ok,
            f"status {self.status}",
            {"status": self.status, "body_tail": self.body, "took_s": round(self.took, 4)},
        )
