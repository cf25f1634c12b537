"""``setpoint chaos``: a self-test that breaks throwaway victims and times the healing.

The runner starts a real ``setpoint run`` against victims it starts itself, with the
shipped ``chaos.yaml``, injects one fault per scenario and reports whether setpoint
noticed, how fast it healed, and whether it touched anything it should not have.
"""
