"""The one exception tree of setpoint.

::

    SetpointError
     ├── ConfigError            bad YAML, bad values (every problem with its path)
     ├── PluginError
     │    ├── PluginNotFound
     │    └── PluginContractError
     ├── SensorUnavailable      a reading could not be taken (a state, not a crash)
     ├── KnowledgeError         the store failed or holds something unreadable
     ├── EventBusError
     ├── ActuationError
     │    ├── PreviewFailed
     │    ├── ApplyFailed
     │    ├── VerifyFailed
     │    └── RollbackFailed
     └── ApprovalError          no such approval, or it was already answered
          └── ApprovalNotFound

Boundaries translate foreign errors (sqlite3, OSError, httpx) into these types with
``raise ... from exc`` so the cause is kept.
"""

from __future__ import annotations


class SetpointError(Exception):
    """Base of every error setpoint raises on purpose."""


class ConfigError(SetpointError):
    """The configuration is invalid; ``problems`` lists each one with its YAML path.

    >>> str(ConfigError(["services.web.probe.timeout: must be > 0"], source="x.yaml"))
    'x.yaml: services.web.probe.timeout: must be > 0'
    """

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


class PluginError(SetpointError):
    """A plugin could not be loaded or used."""


class PluginNotFound(PluginError):
    """No plugin of that kind is registered under that name."""


class PluginContractError(PluginError):
    """A plugin does not keep the contract of its kind."""


class SensorUnavailable(SetpointError):
    """A sensor could not take its reading this time."""


class KnowledgeError(SetpointError):
    """The knowledge store failed, or what it holds cannot be read."""


class EventBusError(SetpointError):
    """The event bus could not deliver or receive."""


class ActuationError(SetpointError):
    """An actuator step failed."""


class PreviewFailed(ActuationError):
    """The actuator could not say what it would do."""


class ApplyFailed(ActuationError):
    """The action could not be carried out."""


class VerifyFailed(ActuationError):
    """The action ran but its effect could not be confirmed."""


class RollbackFailed(ActuationError):
    """The inverse of an action could not be applied."""


class ApprovalError(SetpointError):
    """An approval cannot be given or refused: it was answered already, or expired."""


class ApprovalNotFound(ApprovalError):
    """No approval waits under that decision id."""
