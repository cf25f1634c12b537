"""Fixtures every test folder shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bundled_postgres import stop_shared


@pytest.fixture(scope="session", autouse=True)
def bundled_postgres_stopped() -> Iterator[None]:
    """Stop the bundled pgvector server at the end of the session, if a test started it."""
    yield
    stop_shared()
