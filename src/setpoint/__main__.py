"""``python -m setpoint`` runs the command line."""

from setpoint.cli.main import main

main()
