"""The ``integrations`` section: how setpoint reaches the services its actuators act on.

Actuator params name an instance (``instance: main``); the connection settings live
here, once. A URL may hold a password, so it is a secret: written literally, as
``${ENV}`` references (expanded when the file is loaded), or read from a ``url_file``;
it is kept as a :class:`~pydantic.SecretStr` and shown only with its password masked.

>>> cfg = IntegrationsConfig.model_validate(
...     {"redis": {"cache": {"url": "redis://:hunter2@127.0.0.1:6379/0"}}}
... )
>>> cfg.redis["cache"].display
'redis://:***@127.0.0.1:6379/0'
>>> "hunter2" in repr(cfg)
False
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from setpoint.config.durations import Duration

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_USERINFO = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*):[^@/]*@")


def expand_env(text: str) -> str:
    """Replace every ``${NAME}`` with the environment variable ``NAME``.

    >>> os.environ["SP_DOCTEST_PW"] = "s3cret"
    >>> expand_env("postgresql://app:${SP_DOCTEST_PW}@db/app")
    'postgresql://app:s3cret@db/app'
    >>> expand_env("${SP_DOCTEST_UNSET}")
    Traceback (most recent call last):
    ...
    ValueError: environment variable SP_DOCTEST_UNSET is not set
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return os.environ[name]

    return _ENV_REF.sub(value, text)


def mask_url(url: str) -> str:
    """The URL with the password of its userinfo replaced by ``***``.

    >>> mask_url("postgresql://app:pw@db:5432/app"), mask_url("redis://127.0.0.1")
    ('postgresql://app:***@db:5432/app', 'redis://127.0.0.1')
    """
    return _USERINFO.sub(r"\g<scheme>\g<user>:***@", url)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _UrlInstance(_Section):
    """A server reached by URL: exactly one of ``url`` or ``url_file``."""

    url: SecretStr = Field(description="may hold ${ENV} references")
    url_file: Path | None = Field(None, description="file whose first line is the URL")
    connect_timeout: Duration = Field(5.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if (data.get("url") is None) == (data.get("url_file") is None):
            raise ValueError("give exactly one of url or url_file")
        if isinstance(data.get("url"), str):
            return {**data, "url": expand_env(data["url"])}
        path = Path(data["url_file"])
        try:
            first = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read url_file {path}: {exc.strerror or exc}") from exc
        if not first:
            raise ValueError(f"url_file {path} is empty")
        return {**data, "url": first[0].strip()}

    @property
    def secret_url(self) -> str:
        """The URL itself, for the client library only: never log it."""
        return self.url.get_secret_value()

    @property
    def display(self) -> str:
        """The URL with its password masked, fit for logs and previews."""
        return mask_url(self.secret_url)


class PostgresInstance(_UrlInstance):
    """A PostgreSQL server, e.g. ``postgresql://setpoint@127.0.0.1:5432/app``."""


class RedisInstance(_UrlInstance):
    """A Redis server, e.g. ``redis://127.0.0.1:6379/0``."""


class NginxInstance(_Section):
    """An nginx whose upstream blocks setpoint edits.

    Each upstream setpoint may change lives alone in ``upstreams_dir/NAME.conf``, a file
    setpoint owns and rewrites atomically; ``conf`` includes it.
    """

    conf: Path = Field(description="the main nginx.conf, tested with nginx -t -c")
    upstreams_dir: Path = Field(description="directory of the managed upstream files")
    pid_file: Path = Field(Path("/run/nginx.pid"), description="master pid, sent SIGHUP")
    binary: str = "nginx"
    prefix: Path | None = Field(None, description="passed as -p")
    error_log: Path | None = Field(None, description="passed as -e (nginx >= 1.19.5)")
    reload_timeout: Duration = Field(10.0, gt=0, description="time for new workers to start")


class DockerIntegration(_Section):
    """The Docker Engine API endpoint."""

    url: str = "unix:///var/run/docker.sock"
    timeout: Duration = Field(30.0, gt=0)


class KubernetesIntegration(_Section):
    """The Kubernetes API, reached through a kubeconfig."""

    kubeconfig: Path | None = Field(None, description="default: $KUBECONFIG or ~/.kube/config")
    context: str | None = None
    timeout: Duration = Field(30.0, gt=0, description="per API request")


class IntegrationsConfig(_Section):
    """Connection settings of every service actuators may act on, by instance name."""

    postgres: dict[str, PostgresInstance] = Field(default_factory=dict)
    redis: dict[str, RedisInstance] = Field(default_factory=dict)
    nginx: dict[str, NginxInstance] = Field(default_factory=dict)
    docker: DockerIntegration = Field(default_factory=DockerIntegration)
    kubernetes: KubernetesIntegration = Field(default_factory=KubernetesIntegration)
