"""The foveal tier: multivariate detectors over one entity's series, run in batches.

The contract is in :mod:`setpoint.analyze.foveal.base`; the detectors are registered
under the ``setpoint.mv_detectors`` entry-point group. The tier the agent runs, within a
budget per tick, is :mod:`setpoint.analyze.foveal.attention`.
"""
