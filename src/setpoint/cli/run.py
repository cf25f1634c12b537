"""``setpoint run``: start the agent on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from setpoint.api.app import create_app
from setpoint.config.loader import default_actuators, load_config
from setpoint.config.models import Config
from setpoint.daemon import Agent, install_signal_handlers
from setpoint.errors import ConfigError, KnowledgeError
from setpoint.knowledge.open import open_store
from setpoint.model import GateMode
from setpoint.paths import default_data_dir
from setpoint.plugins import Registry

log = logging.getLogger("setpoint")

DEFAULT_LISTEN = "127.0.0.1:8470"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` as a pair.

    >>> parse_listen("127.0.0.1:8470")
    ('127.0.0.1', 8470)
    >>> parse_listen("8470")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    BadParameter: --listen must be HOST:PORT with a port from 0 to 65535, not '8470'
    """
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise typer.BadParameter(
            f"--listen must be HOST:PORT with a port from 0 to 65535, not {value!r}"
        )
    return host.strip("[]"), int(port)


class _Server(uvicorn.Server):
    """uvicorn, quieter: the agent owns SIGTERM and SIGINT, and housekeeping runs at 1 Hz.

    Stock uvicorn wakes ten times a second to refresh its Date header and check for
    exit; here that wake-up is once a second, or at once when :meth:`request_exit`
    is called. It was about half of the idle agent's CPU time.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signals to the agent."""
        yield

    async def main_loop(self) -> None:
        """Run uvicorn's housekeeping once a second until asked to exit."""
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), 1.0)

    def request_exit(self) -> None:
        """Stop serving now."""
        self.should_exit = True
        self._exit.set()


async def serve(agent: Agent, host: str, port: int) -> None:
    """Run the agent loop and the HTTP API until a signal asks to stop."""
    app = create_app(agent.store, agent, agent.metrics.registry, agent.control)
    server = _Server(
        uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
        )
    )
    install_signal_handlers(agent)
    await agent.start()
    api = asyncio.create_task(server.serve(), name="api")
    log.info("setpoint %s: watching this host; API on http://%s:%d", agent.mode.value, host, port)
    try:
        await agent.run_loop()
    finally:
        server.request_exit()
        await agent.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await api
        log.info("setpoint stopped cleanly")


def run(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML configuration file")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="where the agent keeps its data and, unless knowledge.url says otherwise,"
            " its store [default: $XDG_DATA_HOME/setpoint]"
        ),
    ] = None,
    listen: Annotated[str, typer.Option(help="HOST:PORT of the HTTP API")] = DEFAULT_LISTEN,
    mode: Annotated[GateMode | None, typer.Option(help="override the config's mode")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
) -> None:
    """Start the agent: watch this host and the configured services, heal through the gate."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    host, port = parse_listen(listen)
    actuators: Registry[Any] = default_actuators()
    try:
        cfg = load_config(config, actuators) if config else Config()
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"{exc.source}: {problem}", err=True)
        raise typer.Exit(2) from exc
    if mode is not None:
        cfg = cfg.model_copy(update={"mode": mode})
    directory = data_dir or default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        store = open_store(cfg.knowledge.url, directory)
    except KnowledgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    agent = Agent(cfg, store, directory, actuators)
    try:
        asyncio.run(serve(agent, host, port))
    finally:
        agent.close()


run_app = typer.Typer(add_completion=False, help="setpoint's agent.")
run_app.command("run")(run)


@run_app.callback()
def _agent() -> None:
    """Keep ``run`` a subcommand, as in the full command line."""
