"""Monitor: sensors, probes and the scheduler that polls them."""
