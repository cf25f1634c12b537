"""The one safety gate in front of every actuator, one module per concern.

``modes`` (observe, dry-run, approve, auto and their precedence), ``constraints``
(hard limits on parameters), ``budget`` (restart budget and cooldown), ``flap``
(loop detection with backoff), ``rate`` (token buckets), ``blast`` (blast radius),
``pause`` (the kill switch); :mod:`~setpoint.execute.gate.safety_gate` asks them all.
"""

from setpoint.execute.gate.constraints import HostFacts, Limit, Scale
from setpoint.execute.gate.pause import PAUSE_FILE, KillSwitch, PauseState
from setpoint.execute.gate.safety_gate import Permit, SafetyGate

__all__ = [
    "PAUSE_FILE",
    "HostFacts",
    "KillSwitch",
    "Limit",
    "PauseState",
    "Permit",
    "SafetyGate",
    "Scale",
]
