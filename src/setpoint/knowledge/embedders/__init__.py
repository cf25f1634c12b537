"""Embedders: turn text into unit vectors so the knowledge graph can answer "seen this before?".

The contract is in :mod:`setpoint.knowledge.embedders.base`; the built-in plugins
(``wordllama``, ``chargram``, ``minilm``) are declared as ``setpoint.embedders`` entry
points in ``pyproject.toml``.
"""
