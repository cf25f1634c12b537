"""The ``setpoint`` console script.

``setpoint run`` is the long-lived agent, so it imports only what it runs: the other
commands (and their libraries) would cost the agent about 10 MiB of resident memory
for nothing. Every other command goes through the full app in :mod:`setpoint.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line."""
    if sys.argv[1:2] == ["run"]:
        from setpoint.cli.run import run_app

        run_app()
    else:
        from setpoint.cli.main import app

        app()
