"""``python -m setpoint`` runs the command line."""

from setpoint.cli.entry import main

main()
