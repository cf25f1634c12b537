"""The ``graph`` section: whether the agent links resolved incidents into the knowledge graph.

Linking writes problem, solution and outcome records only; the agent never loads an
embedding model (that costs about 60 MiB). Texts are embedded by the commands that
search (``setpoint similar``, ``learn``, ``explain``), which choose the embedder.

>>> GraphConfig().enabled
True
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class GraphConfig(BaseModel):
    """The knowledge graph of problems, solutions and runbooks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    """Link every resolved incident's problem, the solutions tried and their outcomes."""
