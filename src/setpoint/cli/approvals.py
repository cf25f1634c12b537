"""``setpoint approvals``, ``setpoint approve ID`` and ``setpoint deny ID``.

Answers go to the running agent, which carries an approved decision out at once;
the list falls back to the store when no agent answers.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import httpx
import typer

from setpoint.api.schemas import ApprovalOut
from setpoint.cli.control import TIMEOUT_S, By, Url, answer_of, ask_agent
from setpoint.cli.output import JsonFlag, console, fail, local_time, print_json, table
from setpoint.cli.run import DEFAULT_LISTEN
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.model import ApprovalStatus

DecisionId = Annotated[str, typer.Argument(help="The decision id the approval names.")]
Note = Annotated[str, typer.Option(help="A note for the audit log.")]


def approvals(
    state: Annotated[
        ApprovalStatus | None,
        typer.Option("--status", case_sensitive=False, help="Only these [default: all]."),
    ] = None,
    url: Url = f"http://{DEFAULT_LISTEN}",
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """List approvals, newest first: what waits for a human and what became of the rest."""
    params = {"status": state.value} if state else {}
    try:
        response = httpx.get(f"{url.rstrip('/')}/approvals", params=params, timeout=TIMEOUT_S)
        found = [ApprovalOut.model_validate(a) for a in answer_of(response)]
    except httpx.TransportError:
        with reading_store(data_dir, store_url) as store:
            found = [ApprovalOut.model_validate(a) for a in store.approvals.list(state)]
    if as_json:
        print_json(found)
        return
    rows = table(("id", "requested", "expires", "action", "status", "by", "preview"), "Approvals")
    for a in found:
        rows.add_row(
            a.decision_id,
            local_time(a.requested_at),
            local_time(a.expires_at),
            f"{a.action} {a.target}",
            a.status,
            a.decided_by or "",
            a.preview,
        )
    console().print(rows)


def _answer(
    decision_id: str, verb: str, by: str | None, note: str, url: str, as_json: bool
) -> None:
    body = {"by": by or getpass.getuser(), "note": note}
    response = ask_agent(url, f"/approvals/{decision_id}/{verb}", body)
    if response is None:
        fail(f"agent not reachable at {url}: approvals are answered by the running agent")
    done = ApprovalOut.model_validate(answer_of(response))
    if as_json:
        print_json(done)
    elif done.status == ApprovalStatus.APPROVED:
        typer.echo(f"approved {done.action} on {done.target}: running it now ({decision_id})")
    else:
        typer.echo(f"denied {done.action} on {done.target}: recorded as refused ({decision_id})")


def approve(
    decision_id: DecisionId,
    by: By = None,
    note: Note = "",
    url: Url = f"http://{DEFAULT_LISTEN}",
    as_json: JsonFlag = False,
) -> None:
    """Approve a pending decision; the agent carries it out within the gate's limits."""
    _answer(decision_id, "approve", by, note, url, as_json)


def deny(
    decision_id: DecisionId,
    by: By = None,
    note: Note = "",
    url: Url = f"http://{DEFAULT_LISTEN}",
    as_json: JsonFlag = False,
) -> None:
    """Refuse a pending decision; it is recorded as refused and never carried out."""
    _answer(decision_id, "deny", by, note, url, as_json)
