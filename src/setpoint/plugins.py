"""Registries of plugins, filled from Python entry points.

Built-in plugins are declared in ``pyproject.toml`` exactly as third-party ones are,
so the entry-point groups are the one list of what exists. A registry is an instance
owned by whoever needs it, loaded lazily, and a duplicate name is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

from setpoint.errors import PluginContractError, PluginError, PluginNotFound

T = TypeVar("T")


class Configurable(Protocol):
    """A plugin class that declares its configuration model."""

    Config: ClassVar[type[BaseModel]]


class Registry(Generic[T]):
    """Named plugins of one kind.

    >>> r: Registry[type] = Registry("demo", "setpoint.demo")
    >>> r.add("int", int)
    >>> r.get("int") is int, r.names()
    (True, ['int'])
    """

    def __init__(
        self,
        kind: str,
        group: str,
        discover: Callable[[str], Iterable[EntryPoint]] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self._discover = discover or (lambda g: entry_points(group=g))
        self._items: dict[str, T] = {}
        self._entry_points: dict[str, EntryPoint] = {}
        self._scanned = False

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for ep in self._discover(self.group):
            if ep.name in self._entry_points or ep.name in self._items:
                raise PluginError(f"{self.kind} {ep.name!r} is registered twice ({ep.value})")
            self._entry_points[ep.name] = ep

    def add(self, name: str, item: T) -> None:
        """Register ``item`` under ``name`` by hand (tests, embedding)."""
        self._scan()
        if name in self._items or name in self._entry_points:
            raise PluginError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item

    def get(self, name: str) -> T:
        """The plugin called ``name``, importing it on first use."""
        self._scan()
        if name not in self._items:
            ep = self._entry_points.get(name)
            if ep is None:
                known = ", ".join(self.names()) or "none"
                raise PluginNotFound(f"no {self.kind} named {name!r} (known: {known})")
            try:
                self._items[name] = ep.load()
            except Exception as exc:
                raise PluginError(f"{self.kind} {name!r} failed to load: {exc}") from exc
        return self._items[name]

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._scan()
        return sorted(set(self._items) | set(self._entry_points))

    def __contains__(self, name: object) -> bool:
        self._scan()
        return name in self._items or name in self._entry_points

    def config_for(self, name: str, params: dict[str, Any]) -> BaseModel:
        """Validate ``params`` against the plugin's own ``Config`` model."""
        plugin = self.get(name)
        model = getattr(plugin, "Config", None)
        if model is None or not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginContractError(f"{self.kind} {name!r} declares no Config model")
        return model.model_validate(params)

    def create(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """A new instance of the plugin ``name``, built from its validated ``params``."""
        plugin: Any = self.get(name)
        return plugin(self.config_for(name, dict(params or {})))

    def factory(self, name: str) -> Callable[[], Any]:
        """A maker of fresh default-configured ``name`` plugins, one per call.

        One is built at once, so a bad name or config raises PluginError here,
        before a caller has written any output.
        """
        self.create(name)
        return lambda: self.create(name)
