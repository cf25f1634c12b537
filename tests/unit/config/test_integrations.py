from __future__ import annotations

from pathlib import Path

import pytest

from setpoint.config.loader import parse_config
from setpoint.errors import ConfigError


def test_integrations_section_with_env_and_file_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SP_TEST_PG_PASSWORD", "pg-secret")
    (tmp_path / "redis.url").write_text("redis://:redis-secret@127.0.0.1:6379/2\n")
    config = parse_config(
        f"""
integrations:
  postgres:
    main: {{url: "postgresql://app:${{SP_TEST_PG_PASSWORD}}@db:5432/app"}}
  redis:
    cache: {{url_file: {tmp_path / "redis.url"}}}
  nginx:
    edge: {{conf: /etc/nginx/nginx.conf, upstreams_dir: /etc/nginx/upstreams}}
  kubernetes: {{kubeconfig: /etc/setpoint/kubeconfig, context: prod}}
"""
    )
    ints = config.integrations
    assert ints.postgres["main"].secret_url == "postgresql://app:pg-secret@db:5432/app"
    assert ints.postgres["main"].display == "postgresql://app:***@db:5432/app"
    assert ints.redis["cache"].display == "redis://:***@127.0.0.1:6379/2"
    assert ints.nginx["edge"].pid_file == Path("/run/nginx.pid")
    assert ints.docker.url == "unix:///var/run/docker.sock"
    assert ints.kubernetes.context == "prod"
    for text in (repr(config), str(config), repr(ints.postgres["main"])):
        assert "pg-secret" not in text and "redis-secret" not in text


def test_integration_problems_are_reported_with_their_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(
            f"""
integrations:
  postgres:
    a: {{url: "postgresql://u:${{SP_TEST_SURELY_UNSET}}@db/x"}}
    b: {{url: "postgresql://db/x", url_file: /x}}
  redis:
    c: {{url_file: {tmp_path / "missing"}}}
  docker: {{url: unix:///run/docker.sock, tls: true}}
"""
        )
    problems = "\n".join(exc.value.problems)
    assert (
        "integrations.postgres.a: environment variable SP_TEST_SURELY_UNSET is not set" in problems
    )
    assert "integrations.postgres.b: give exactly one of url or url_file" in problems
    assert "integrations.redis.c: cannot read url_file" in problems
    assert "integrations.docker.tls: unknown field" in problems
