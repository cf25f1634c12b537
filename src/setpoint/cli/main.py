"""The ``setpoint`` command: every command group registered on one typer app."""

from __future__ import annotations

import typer

from setpoint.cli import config, decisions, explain, incidents, status
from setpoint.cli.run import run

app = typer.Typer(
    name="setpoint",
    help="An autonomic manager for this host: monitor, analyze, plan, execute, explain.",
    no_args_is_help=True,
)
config_app = typer.Typer(help="Work with the configuration file.", no_args_is_help=True)
config_app.command("check")(config.check)
app.add_typer(config_app, name="config")
app.command("init")(config.init)
app.command("run")(run)
app.command("status")(status.status)
app.command("incidents")(incidents.incidents)
app.command("decisions")(decisions.decisions)
app.command("explain")(explain.explain)


def main() -> None:
    """Run the command line (the ``setpoint`` console script)."""
    app()
