"""The managed upstream file: one ``upstream NAME { ... }`` block that setpoint owns.

nginx includes ``upstreams_dir/NAME.conf``; setpoint parses it, changes one server's
parameters, and writes it back whole (comments are not kept: the file is setpoint's).

>>> block = parse_upstream("upstream app { least_conn; server 10.0.0.1:80 weight=2; }")
>>> block.name, block.servers["10.0.0.1:80"]
('app', ['weight=2'])
>>> print(render_upstream(block.with_server("10.0.0.1:80", weight=5, down=True)), end="")
# managed by setpoint: rewritten whole on every change
upstream app {
    least_conn;
    server 10.0.0.1:80 weight=5 down;
}
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

_BLOCK = re.compile(r"^\s*upstream\s+(\S+)\s*\{(.*)\}\s*$", re.DOTALL)


@dataclass(frozen=True)
class Upstream:
    """An upstream block: its directives in order, servers by address with their params."""

    name: str
    directives: tuple[str, ...]
    servers: dict[str, list[str]] = field(default_factory=dict)

    def with_server(
        self, address: str, *, weight: int | None = None, down: bool | None = None
    ) -> Upstream:
        """A copy with the server's ``weight=`` and ``down`` set as given (None: unchanged)."""
        if address not in self.servers:
            known = ", ".join(self.servers) or "none"
            raise KeyError(f"upstream {self.name} has no server {address} (servers: {known})")
        params = list(self.servers[address])
        if weight is not None:
            params = [p for p in params if not p.startswith("weight=")]
            params.insert(0, f"weight={weight}")
        if down is not None:
            params = [p for p in params if p != "down"] + (["down"] if down else [])
        return Upstream(self.name, self.directives, {**self.servers, address: params})

    def weight(self, address: str) -> int:
        """The server's weight (nginx's default is 1)."""
        found = [p for p in self.servers[address] if p.startswith("weight=")]
        return int(found[0].removeprefix("weight=")) if found else 1

    def is_down(self, address: str) -> bool:
        """Whether the server is marked ``down``."""
        return "down" in self.servers[address]


def parse_upstream(text: str) -> Upstream:
    """Parse a managed file; ValueError when it is not a single upstream block."""
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    match = _BLOCK.match("\n".join(lines))
    if match is None:
        raise ValueError("expected exactly one 'upstream NAME { ... }' block")
    name, body = match.groups()
    if "{" in body or "}" in body:
        raise ValueError("nested blocks are not supported in a managed upstream file")
    directives: list[str] = []
    servers: dict[str, list[str]] = {}
    for statement in (s.strip() for s in body.split(";")):
        if not statement:
            continue
        words = statement.split()
        if words[0] == "server" and len(words) >= 2:
            servers[words[1]] = words[2:]
        else:
            directives.append(" ".join(words))
    return Upstream(name, tuple(directives), servers)


def render_upstream(block: Upstream) -> str:
    """The managed file's text for ``block``."""
    lines = ["# managed by setpoint: rewritten whole on every change", f"upstream {block.name} {{"]
    lines += [f"    {d};" for d in block.directives]
    lines += [
        " ".join(["    server", addr, *params]) + ";" for addr, params in block.servers.items()
    ]
    return "\n".join([*lines, "}"]) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, so nginx never reads half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
