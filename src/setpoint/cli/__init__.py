"""The ``setpoint`` command line: one module per command group."""
