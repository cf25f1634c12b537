"""Execute: actuators behind one safety gate, with verification and an audit trail."""
