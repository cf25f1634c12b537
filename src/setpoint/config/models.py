"""The configuration file, as frozen pydantic models (one per section).

Defaults are the safe ones: mode ``dry-run``, host sensors only, nothing changed on the
machine until the file says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from setpoint.analyze.peripheral import PeripheralConfig
from setpoint.analyze.thresholds import ThresholdRule
from setpoint.config.durations import Duration
from setpoint.config.failure import FailureConfig
from setpoint.config.forecast import ForecastConfig
from setpoint.config.foveal import FovealConfig
from setpoint.config.graph import GraphConfig
from setpoint.config.integrations import IntegrationsConfig
from setpoint.config.learning import LearningConfig
from setpoint.config.prediction import CrashConfig, PredictionConfig
from setpoint.model import GateMode, OperationalMode

STORE_SCHEMES = ("sqlite", "postgresql", "postgres")
"""The URL schemes ``knowledge.url`` may use."""


def check_regex(value: str) -> str:
    """Accept ``value`` only if it compiles as a regular expression.

    >>> check_regex("web-[0-9]+")
    'web-[0-9]+'
    """
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression: {exc}") from exc
    return value


Regex = Annotated[str, AfterValidator(check_regex)]
"""A pydantic field type for a regular expression, checked when the config loads."""


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
    match: Regex | None = None
    restart: list[str] | None = None
    systemd: str | None = None
    probe: ProbeConfig | None = None
    stop_timeout: Duration = Field(5.0, gt=0, description="grace between SIGTERM and SIGKILL")
    verify_timeout: Duration = Field(10.0, gt=0, description="time a restart has to pass")
    group: str | None = Field(
        None, min_length=1, description="blast-radius group: replicas of one thing"
    )

    @field_validator("command", "restart")
    @classmethod
    def _argv(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must not be empty")
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
    """Which symptoms a playbook answers, and how long one must stand before it acts.

    ``for`` (as in a Prometheus alert rule) lets a passing excursion, such as a 5 s CPU
    burst, clear by itself: the playbook acts only on a symptom still firing that long
    after it started.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    symptom: str = Field(min_length=1)
    service: str | None = None
    entity: str | None = None
    series: str | None = Field(
        None, min_length=1, description="the symptom's evidence series, e.g. service.cpu_percent"
    )
    for_: Duration | None = Field(
        None, alias="for", gt=0, description="how long the symptom must fire before acting"
    )


class ActionStep(BaseModel):
    """One action of a playbook: ``action`` names an actuator, other keys are its params.

    ``verify_window`` and ``harm_threshold`` belong to the safety gate, not the
    actuator: they override ``gate.verify_window`` and ``gate.harm_threshold`` for
    this step.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    action: str = Field(min_length=1)
    verify_window: Duration | None = Field(None, gt=0)
    harm_threshold: float | None = Field(None, gt=0)

    @property
    def params(self) -> dict[str, Any]:
        """The keys besides ``action``: validated by the actuator's own Config."""
        return dict(self.model_extra or {})


class PlaybookConfig(Section):
    """A declared remediation: when a symptom matches, do these actions.

    Either ``do`` (the steps, in order) or ``choose: learned`` with ``candidates``: then
    one candidate is chosen per try, by its learned chance of healing this symptom.
    """

    name: str = Field(min_length=1)
    when: When
    do: list[ActionStep] | None = Field(None, min_length=1)
    choose: Literal["learned"] | None = None
    candidates: list[ActionStep] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _do_or_choose(self) -> PlaybookConfig:
        if self.do is not None and (self.choose is not None or self.candidates is not None):
            raise ValueError("give either do, or choose: learned with candidates, not both")
        if self.candidates is not None and self.choose is None:
            raise ValueError("candidates need choose: learned")
        if self.do is None and self.choose is None:
            raise ValueError("give do (the steps) or choose: learned with candidates")
        if self.choose is not None and self.candidates is None:
            raise ValueError("choose: learned needs candidates (a list of actions)")
        return self

    @property
    def steps(self) -> list[ActionStep]:
        """The actions this playbook may take: its ``do`` steps or its candidates."""
        return list(self.do or self.candidates or [])


class BudgetConfig(Section):
    """At most ``count`` actions on one target within ``window``; then escalate."""

    count: int = Field(3, ge=1)
    window: Duration = Field(600.0, gt=0)


RiskName = Literal["safe", "disruptive", "destructive"]
"""The values of :class:`setpoint.execute.base.Risk`, as config keys."""


class RateConfig(Section):
    """A token bucket: ``count`` actions per ``per``, refilled evenly, bursts up to ``count``."""

    count: int = Field(1, ge=1)
    per: Duration = Field(60.0, gt=0)


class RateLimitsConfig(Section):
    """Token buckets per risk class, shared by every target; ``null`` means unlimited."""

    safe: RateConfig | None = None
    disruptive: RateConfig | None = None
    destructive: RateConfig | None = Field(default_factory=RateConfig)


class FlapConfig(Section):
    """Loop and flap detection: the same action on the same target, again and again.

    From the ``after``-th act within ``window`` of the one before, the next act waits
    ``backoff`` seconds, doubling with each further act up to ``max_backoff``; a
    target left alone for ``window`` starts over.
    """

    window: Duration = Field(600.0, gt=0)
    after: int = Field(2, ge=1)
    backoff: Duration = Field(2.0, gt=0)
    max_backoff: Duration = Field(300.0, gt=0)


class BlastRadiusConfig(Section):
    """How much may be in action at once: overall, per service group, share of a group.

    An action that would exceed it waits up to ``wait`` for a slot (while its symptom
    still fires) before it is refused.
    """

    max_concurrent: int = Field(4, ge=1, description="actions in flight on the whole host")
    max_per_group: int | None = Field(None, ge=1, description="actions in flight per group")
    max_group_fraction: float = Field(
        0.5, gt=0, le=1, description="share of a group's members in action (at least one)"
    )
    wait: Duration = Field(
        300.0, ge=0, description="how long an action waits for a blast-radius slot"
    )


class LimitConfig(Section):
    """A hard limit on one actuator parameter; replaces the one the actuator declares.

    With ``scale: host_memory`` (or ``host_cpus``) the bounds are fractions of the
    host's memory in bytes (or of its CPU count).
    """

    min: float | None = None
    max: float | None = None
    scale: Literal["absolute", "host_memory", "host_cpus"] = "absolute"


class GateConfig(Section):
    """The safety gate in front of every actuator.

    Mode precedence: an action named in ``mode_by_action`` gets that mode; any other
    action gets the more cautious of the global ``mode`` and its risk class's entry in
    ``mode_by_risk`` (observe > dry-run > approve > auto). ``setpoint pause`` beats all.
    """

    cooldown: Duration = Field(1.0, ge=0, description="pause between actions on one target")
    restart_budget: BudgetConfig = Field(default_factory=BudgetConfig)
    mode_by_risk: dict[RiskName, GateMode] = Field(default_factory=dict)
    mode_by_action: dict[str, GateMode] = Field(default_factory=dict)
    rate_limits: RateLimitsConfig = Field(default_factory=RateLimitsConfig)
    flap: FlapConfig = Field(default_factory=FlapConfig)
    blast_radius: BlastRadiusConfig = Field(default_factory=BlastRadiusConfig)
    limits: dict[str, dict[str, LimitConfig]] = Field(
        default_factory=dict, description="action -> parameter -> hard limit"
    )
    approval_ttl: Duration = Field(900.0, gt=0, description="how long an approval may wait")
    verify_window: Duration = Field(
        60.0, ge=0, description="wait before measuring harm after a reversible action"
    )
    harm_threshold: float = Field(
        0.2, gt=0, description="relative worsening that triggers a rollback (0.2 = 20 %)"
    )


class NotifyConfig(Section):
    """Where to tell people about approvals: a Slack-compatible incoming webhook."""

    webhook: str | None = Field(None, description='URL that takes a JSON {"text": ...} POST')
    timeout: Duration = Field(5.0, gt=0)

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


class SensorsConfig(Section):
    """Which built-in sensors run."""

    host: bool = True


class RetentionConfig(Section):
    """How long the store keeps what: detailed samples, their hourly roll-ups, the audit log."""

    samples: Duration = Field(90 * 86400.0, gt=0)
    hourly: Duration = Field(2 * 365 * 86400.0, gt=0)
    audit: Duration = Field(365 * 86400.0, gt=0)


class KnowledgeConfig(Section):
    """The knowledge store: SQLite in the data dir, or the store ``url`` names.

    ``url`` is ``postgresql://user@host/db?schema=name`` for PostgreSQL (the ``pg``
    extra) or ``sqlite:///PATH``. It is left out of reprs: it may hold a password.
    """

    url: str | None = Field(None, repr=False)
    sample_every: Duration = Field(10.0, gt=0, description="resolution samples are kept at")
    state_every: Duration = Field(300.0, gt=0, description="how often learned baselines are saved")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in STORE_SCHEMES:
            raise ValueError(
                f"scheme must be one of {', '.join(STORE_SCHEMES)}, not {scheme or 'none'!r}"
            )
        return value


class IncidentConfig(Section):
    """Grouping of symptoms into incidents."""

    resolve_after: Duration = Field(
        5.0, ge=0, description="quiet time after the last symptom clears"
    )


class DirBudget(Section):
    """One directory and the bytes it may hold."""

    path: Path = Field(description="an absolute directory; its whole tree counts")
    size: ByteSize = Field(gt=0, description="bytes the tree may hold, e.g. 10GiB")
    every: Duration = Field(10.0, gt=0, description="how often the tree is walked")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError(f"{value} must be an absolute path")
        return value


class DiskConfig(Section):
    """Where the disk actuators may rotate, compress or delete files: nowhere by default.

    ``budgets`` names directories held to a byte budget (entity ``dir:NAME``); the
    exhaustion forecast predicts when each one reaches it.
    """

    allow: list[Path] = Field(
        default_factory=list, description="absolute directories; symlinks are resolved"
    )
    budgets: dict[str, DirBudget] = Field(default_factory=dict)

    @field_validator("allow")
    @classmethod
    def _absolute(cls, value: list[Path]) -> list[Path]:
        for path in value:
            if not path.is_absolute():
                raise ValueError(f"{path} must be an absolute path")
        return value


class Config(Section):
    """The whole configuration file."""

    version: Literal[1] = 1
    mode: GateMode = GateMode.DRY_RUN
    operational_mode: OperationalMode = OperationalMode.BALANCED
    interval: Duration = Field(1.0, gt=0)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    playbooks: list[PlaybookConfig] = Field(default_factory=list)
    gate: GateConfig = Field(default_factory=GateConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    attention: PeripheralConfig = Field(default_factory=PeripheralConfig)
    foveal: FovealConfig = Field(default_factory=FovealConfig)
    thresholds: list[ThresholdRule] = Field(default_factory=list)
    sensors: SensorsConfig = Field(default_factory=SensorsConfig)
    knowledge: KnowledgeConfig = Field(default_factory=KnowledgeConfig)
    incidents: IncidentConfig = Field(default_factory=IncidentConfig)
    integrations: IntegrationsConfig = Field(default_factory=IntegrationsConfig)
    disk: DiskConfig = Field(default_factory=DiskConfig)
    learning: LearningConfig = Field(default_factory=LearningConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    prediction: PredictionConfig = Field(default_factory=PredictionConfig)
    crash: CrashConfig = Field(default_factory=CrashConfig)
    failure: FailureConfig = Field(default_factory=FailureConfig)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"service name {name!r} may hold only letters, digits, _ . -")
        return value
