"""The ``setpoint`` command: every command group registered on one typer app.

The console script enters through :mod:`setpoint.cli.entry`, which spares ``setpoint
run`` the imports of every other command.
"""

from __future__ import annotations

import typer

from setpoint.cli import approvals as approval_commands
from setpoint.cli import backup, config, control, decisions, explain, incidents, patterns, status
from setpoint.cli.bench import app as bench_app
from setpoint.cli.chaos import chaos
from setpoint.cli.crash import app as crash_app
from setpoint.cli.forecast import forecast
from setpoint.cli.learn import learn, similar
from setpoint.cli.run import run
from setpoint.cli.train import predict_failure, train

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
app.command("pause")(control.pause)
app.command("resume")(control.resume)
app.command("approvals")(approval_commands.approvals)
app.command("approve")(approval_commands.approve)
app.command("deny")(approval_commands.deny)
app.add_typer(bench_app, name="bench")
app.command("learn")(learn)
app.command("similar")(similar)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.add_typer(patterns.app, name="patterns")
app.add_typer(crash_app, name="crash")
app.command("forecast")(forecast)
app.command("chaos")(chaos)
app.command("train")(train)
app.command("predict-failure")(predict_failure)
