"""Store URLs: the one place a password in a URL is parsed, and hidden from messages.

A PostgreSQL store is named by a libpq URL plus an optional ``schema`` query
parameter, which setpoint takes out before the URL reaches the driver:
``postgresql://setpoint@db.example/ops?schema=agent1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from setpoint.errors import KnowledgeError

DEFAULT_SCHEMA = "setpoint"
SCHEMES = ("postgresql", "postgres")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to log or show.

    >>> redact_url("postgresql://ops:s3cret@db:5432/test?schema=a")
    'postgresql://ops:***@db:5432/test?schema=a'
    >>> redact_url("postgresql://db/test?password=s3cret")
    'postgresql://db/test?password=***'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if sep else netloc
    query = [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*")))


@dataclass(frozen=True)
class PostgresTarget:
    """Where a PostgreSQL store lives: the driver's URL, the schema, and a safe label.

    >>> t = PostgresTarget.parse("postgresql://ops:pw@db/test?schema=agent1&sslmode=disable")
    >>> t.schema, t.label
    ('agent1', 'postgresql://ops:***@db/test?sslmode=disable (schema agent1)')
    >>> "pw" in repr(t)
    False
    """

    conninfo: str = field(repr=False)
    schema: str
    label: str

    @classmethod
    def parse(cls, url: str) -> PostgresTarget:
        """Split ``url`` into the driver's URL and the schema; KnowledgeError when unusable."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise KnowledgeError(f"not a PostgreSQL URL (postgresql://...): {redact_url(url)!r}")
        params = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [v for k, v in params if k == "schema"]
        schema = schemas[-1] if schemas else DEFAULT_SCHEMA
        rest = urlunsplit(
            parts._replace(query=urlencode([(k, v) for k, v in params if k != "schema"]))
        )
        if not _SCHEMA_NAME.fullmatch(schema):
            raise KnowledgeError(
                f"{redact_url(rest)}: schema {schema!r} must be lower-case letters, digits"
                " and _, not starting with a digit"
            )
        return cls(rest, schema, f"{redact_url(rest)} (schema {schema})")

    def scrub(self, text: str) -> str:
        """``text`` with this URL's password (if any) replaced by ``***``."""
        password = urlsplit(self.conninfo).password
        secrets = [password] if password else []
        secrets += [v for k, v in parse_qsl(urlsplit(self.conninfo).query) if k == "password"]
        for secret in secrets:
            text = text.replace(secret, "***")
        return text
