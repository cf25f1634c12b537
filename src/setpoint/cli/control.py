"""``setpoint pause`` and ``setpoint resume``: the global kill switch.

They ask the running agent (``--url``). When no agent answers, they write the pause
file in the data dir themselves, so the agent starts paused (or not) next time.
"""

from __future__ import annotations

import getpass
import time
from typing import Annotated, Any

import httpx
import typer

from setpoint.api.routes.control import pause_out
from setpoint.api.schemas import PauseOut
from setpoint.cli.output import JsonFlag, fail, local_time, print_json
from setpoint.cli.run import DEFAULT_LISTEN
from setpoint.cli.store import DataDir
from setpoint.execute.gate import PAUSE_FILE, KillSwitch
from setpoint.paths import default_data_dir

TIMEOUT_S = 5.0
"""How long to wait for the agent's answer."""

Url = Annotated[str, typer.Option(help="Base URL of the agent's API.")]
By = Annotated[str | None, typer.Option(help="Who does it, for the audit log [default: you].")]


def ask_agent(url: str, path: str, body: dict[str, Any]) -> httpx.Response | None:
    """POST ``body`` to the agent; None when no agent answers at ``url``."""
    try:
        return httpx.post(f"{url.rstrip('/')}{path}", json=body, timeout=TIMEOUT_S)
    except httpx.TransportError:
        return None


def answer_of(response: httpx.Response) -> Any:
    """The JSON of a 2xx answer; otherwise print the agent's reason and exit 1."""
    if response.is_success:
        return response.json()
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    fail(f"the agent said {response.status_code}: {detail}")


def _show(state: PauseOut, as_json: bool, note: str) -> None:
    if as_json:
        print_json(state)
    elif state.paused:
        why = f": {state.reason}" if state.reason else ""
        typer.echo(f"paused by {state.by} since {local_time(state.since)}{why}{note}")
    else:
        typer.echo(f"resumed: actions pass the gate again{note}")


def pause(
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
    by: By = None,
    url: Url = f"http://{DEFAULT_LISTEN}",
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """Stop every action (verdict: refused, paused) until `setpoint resume`."""
    who = by or getpass.getuser()
    response = ask_agent(url, "/pause", {"by": who, "reason": reason})
    if response is not None:
        _show(PauseOut.model_validate(answer_of(response)), as_json, "")
        return
    switch = KillSwitch((data_dir or default_data_dir()) / PAUSE_FILE)
    state = switch.pause(who, reason, time.time())
    note = f" (agent not reachable at {url}; written to {switch.path}, kept when it starts)"
    _show(pause_out(state), as_json, note)


def resume(
    by: By = None,
    url: Url = f"http://{DEFAULT_LISTEN}",
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """Let actions through the gate again after `setpoint pause`."""
    response = ask_agent(url, "/resume", {"by": by or getpass.getuser()})
    if response is not None:
        _show(PauseOut.model_validate(answer_of(response)), as_json, "")
        return
    switch = KillSwitch((data_dir or default_data_dir()) / PAUSE_FILE)
    switch.resume()
    _show(pause_out(None), as_json, f" (agent not reachable at {url}; removed {switch.path})")
