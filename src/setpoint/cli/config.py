"""``setpoint config check FILE`` and ``setpoint init [PATH]``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from setpoint.cli.output import fail
from setpoint.config import Config, load_config
from setpoint.errors import ConfigError

INVALID = 2
"""Exit code of ``config check`` when the file has problems."""


def check(
    file: Annotated[Path, typer.Argument(help="The YAML configuration file.", dir_okay=False)],
) -> None:
    """Validate a configuration file; list every problem with its YAML path (exit 2)."""
    try:
        config = load_config(file)
    except ConfigError as exc:
        typer.echo(f"{file}: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            typer.echo(f"  {problem}")
        raise typer.Exit(INVALID) from exc
    typer.echo(f"{file}: ok")
    typer.echo(summary(config))


def summary(config: Config) -> str:
    """One line saying what a valid configuration will do."""
    services = ", ".join(sorted(config.services)) or "none"
    playbooks = ", ".join(p.name for p in config.playbooks) or "none"
    return (
        f"mode {config.mode}, every {config.interval:g}s; services: {services}; "
        f"playbooks: {playbooks}"
    )


def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.", dir_okay=False)] = Path(
        "setpoint.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example configuration to start from."""
    text = resources.files("setpoint.config").joinpath("example.yaml").read_text("utf-8")
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    typer.echo(f"wrote {path}; edit it, then check it with: setpoint config check {path}")
