"""The configuration file, as frozen pydantic models (one per section).

Defaults are the safe ones: mode ``dry-run``, host sensors only, nothing changed on the
machine until the file says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from setpoint.config.durations import Duration
from setpoint.model import GateMode, OperationalMode


class Section(BaseModel):
    """Base of every config section: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ProbeConfig(Section):
    """How to tell that a service answers: exactly one of http, tcp or command."""

    http: str | None = Field(None, description="URL; a 2xx or 3xx answer passes")
    tcp: str | None = Field(None, description="host:port that must accept a connection")
    command: list[str] | None = Field(None, description="argv that must exit 0")
    timeout: Duration = Field(1.0, gt=0)
    interval: Duration = Field(5.0, gt=0)
    failures: int = Field(3, ge=1, description="consecutive failures before unhealthy")

    @field_validator("http")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("tcp")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            host, sep, port = value.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("must be host:port with a port from 1 to 65535")
        return value

    @field_validator("command")
    @classmethod
    def _argv(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ProbeConfig:
        chosen = [k for k in ("http", "tcp", "command") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of http, tcp or command")
        return self

    @property
    def kind(self) -> str:
        """Which probe this is: http, tcp or command."""
        return next(k for k in ("http", "tcp", "command") if getattr(self, k) is not None)


class ServiceConfig(Section):
    """A service setpoint watches and may restart.

    Found in one of four ways: ``command`` (setpoint starts and supervises it),
    ``pid_file`` or ``match`` (a cmdline regex; both need ``restart``), or ``systemd``.
    """

    command: list[str] | None = None
    cwd: Path | None = None
    env: dict[str, str] = Field(default_factory=dict)
    pid_file: Path | None = None
    match: str | None = None
    restart: list[str] | None = None
    systemd: str | None = None
    probe: ProbeConfig | None = None
    stop_timeout: Duration = Field(5.0, gt=0, description="grace between SIGTERM and SIGKILL")
    verify_timeout: Duration = Field(10.0, gt=0, description="time a restart has to pass")

    @field_validator("command", "restart")
    @classmethod
    def _argv(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _one_way_to_find_it(self) -> ServiceConfig:
        ways = [k for k in ("command", "pid_file", "match", "systemd") if getattr(self, k)]
        if len(ways) != 1:
            raise ValueError("give exactly one of command, pid_file, match or systemd")
        if ways[0] in ("pid_file", "match") and not self.restart:
            raise ValueError(f"a service found by {ways[0]} needs a restart argv")
        if ways[0] in ("command", "systemd") and self.restart:
            raise ValueError(f"restart is only for pid_file or match services, not {ways[0]}")
        return self

    @property
    def kind(self) -> str:
        """How the service is found: command, pid_file, match or systemd."""
        return next(k for k in ("command", "pid_file", "match", "systemd") if getattr(self, k))


class When(Section):
    """Which symptoms a playbook answers."""

    symptom: str = Field(min_length=1)
    service: str | None = None
    entity: str | None = None


class ActionStep(BaseModel):
    """One action of a playbook: ``action`` names an actuator, other keys are its params."""

    model_config = ConfigDict(frozen=True, extra="allow")

    action: str = Field(min_length=1)

    @property
    def params(self) -> dict[str, Any]:
        """The keys besides ``action``: validated by the actuator's own Config."""
        return dict(self.model_extra or {})


class PlaybookConfig(Section):
    """A declared remediation: when a symptom matches, do these actions."""

    name: str = Field(min_length=1)
    when: When
    do: list[ActionStep] = Field(min_length=1)


class BudgetConfig(Section):
    """At most ``count`` actions on one target within ``window``; then escalate."""

    count: int = Field(3, ge=1)
    window: Duration = Field(600.0, gt=0)


class GateConfig(Section):
    """The safety gate in front of every actuator."""

    cooldown: Duration = Field(1.0, ge=0, description="pause between actions on one target")
    restart_budget: BudgetConfig = Field(default_factory=BudgetConfig)


class DetectorConfig(Section):
    """The streaming detector run on every series."""

    type: str = "rolling_median"
    params: dict[str, Any] = Field(default_factory=dict)


class SensorsConfig(Section):
    """Which built-in sensors run."""

    host: bool = True


class RetentionConfig(Section):
    """How long the store keeps what."""

    samples: Duration = Field(14 * 86400.0, gt=0)
    audit: Duration = Field(365 * 86400.0, gt=0)


class KnowledgeConfig(Section):
    """The knowledge store: SQLite in the data dir."""

    sample_every: Duration = Field(10.0, gt=0, description="resolution samples are kept at")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class IncidentConfig(Section):
    """Grouping of symptoms into incidents."""

    resolve_after: Duration = Field(
        5.0, ge=0, description="quiet time after the last symptom clears"
    )


class Config(Section):
    """The whole configuration file."""

    version: Literal[1] = 1
    mode: GateMode = GateMode.DRY_RUN
    operational_mode: OperationalMode = OperationalMode.BALANCED
    interval: Duration = Field(1.0, gt=0)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    playbooks: list[PlaybookConfig] = Field(default_factory=list)
    gate: GateConfig = Field(default_factory=GateConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    sensors: SensorsConfig = Field(default_factory=SensorsConfig)
    knowledge: KnowledgeConfig = Field(default_factory=KnowledgeConfig)
    incidents: IncidentConfig = Field(default_factory=IncidentConfig)

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"service name {name!r} may hold only letters, digits, _ . -")
        return value
