"""Open the knowledge store a URL names: the one place a backend is chosen.

No URL means SQLite in the data dir; otherwise the URL's scheme picks a backend from
the ``setpoint.knowledge`` entry points (``sqlite``, ``postgresql``; ``postgres`` is
taken as ``postgresql``), so a third-party backend is found the same way.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from setpoint.clock import Clock
from setpoint.errors import KnowledgeError, PluginError
from setpoint.knowledge.base import KnowledgeStore, StoreBackend
from setpoint.knowledge.postgres_url import redact_url
from setpoint.plugins import Registry

_ALIASES = {"postgres": "postgresql"}


def store_backends() -> Registry[StoreBackend]:
    """The registry of knowledge store backends, filled from entry points on first use."""
    return Registry("knowledge backend", "setpoint.knowledge")


def backend_name(url: str | None) -> str:
    """The backend a store URL asks for.

    >>> backend_name(None), backend_name("postgres://db/x"), backend_name("sqlite:///a.db")
    ('sqlite', 'postgresql', 'sqlite')
    """
    if url is None:
        return "sqlite"
    scheme = urlsplit(url).scheme
    return _ALIASES.get(scheme, scheme)


def open_store(
    url: str | None,
    data_dir: Path,
    clock: Clock | None = None,
    backends: Registry[StoreBackend] | None = None,
) -> KnowledgeStore:
    """Open, check and migrate the store ``url`` names; SQLite in ``data_dir`` when None.

    Every failure is a KnowledgeError; a URL in a message has its password hidden.
    """
    name = backend_name(url)
    registry = backends or store_backends()
    try:
        backend = registry.get(name)
    except PluginError as exc:
        shown = redact_url(url or "")
        hint = " (install the pg extra: pip install 'setpoint[pg]')" if name == "postgresql" else ""
        raise KnowledgeError(f"no knowledge store backend for {shown!r}{hint}: {exc}") from exc
    return backend.from_url(url, data_dir, clock)
