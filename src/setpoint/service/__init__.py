"""Services setpoint watches and restarts: supervised commands, found processes, systemd units."""
