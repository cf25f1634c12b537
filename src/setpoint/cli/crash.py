"""``setpoint crash``: the OOM predictor's status, its prediction history, its threshold.

Everything goes through the knowledge store: the running agent stores a status
snapshot every 10 s and reads the threshold from it, so ``tune`` reaches it within
that time and no command needs the API.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Annotated, Any

import typer

from setpoint.analyze.foresight import STATUS, THRESHOLD
from setpoint.cli.output import JsonFlag, console, local_time, table
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.knowledge.predictions import PredictionAccuracy

app = typer.Typer(help="The OOM predictor: status, history, threshold.", no_args_is_help=True)


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f} MiB"


@app.command("status")
def status(as_json: JsonFlag = False, data_dir: DataDir = None, store_url: StoreUrl = None) -> None:
    """Risk per memory domain (host, each cgroup), threshold and accuracy so far."""
    with reading_store(data_dir, store_url) as store:
        raw = store.predictions.get_setting(STATUS)
        tuned = store.predictions.get_setting(THRESHOLD)
        accuracy = store.predictions.accuracy()
    snapshot: dict[str, Any] = json.loads(raw) if raw else {"domains": [], "threshold": None}
    if tuned is not None:
        snapshot["threshold"] = float(tuned)
    if as_json:
        typer.echo(json.dumps({**snapshot, "accuracy": _acc(accuracy)}))
        return
    out = console()
    when = local_time(snapshot["ts"]) if "ts" in snapshot else "never (no agent has run)"
    out.print(f"threshold {snapshot.get('threshold')}; as of {when}")
    rows = table(("domain", "risk", "confidence", "headroom", "limit", "eta", "culprit"))
    for d in snapshot["domains"]:
        eta = "-" if d["eta_s"] is None else f"{d['eta_s']:.0f} s"
        rows.add_row(
            d["domain"],
            d["risk"],
            f"{d['confidence']:.2f}",
            _mib(d["headroom_bytes"]),
            _mib(d["limit_bytes"]),
            eta,
            d["culprit"] or "-",
        )
    out.print(rows)
    a = _acc(accuracy)
    out.print(
        f"predictions: {a['confirmed']} confirmed, {a['averted']} averted, "
        f"{a['false_alarms']} false alarms, {a['unpredicted']} OOM kills unpredicted, "
        f"{a['pending']} pending; precision {_share(a['precision'])}, "
        f"recall {_share(a['recall'])}"
    )


def _acc(accuracy: PredictionAccuracy) -> dict[str, Any]:
    return asdict(accuracy)


@app.command("history")
def history(
    n: Annotated[int, typer.Argument(min=1, max=1000, help="How many, newest first.")] = 20,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """The last N predictions and whether each was borne out."""
    with reading_store(data_dir, store_url) as store:
        found = store.predictions.list(n)
    if as_json:
        typer.echo(json.dumps([{**asdict(p), "outcome": p.outcome.value} for p in found]))
        return
    rows = table(("time", "entity", "domain", "risk", "confidence", "eta", "outcome", "settled"))
    for p in found:
        rows.add_row(
            local_time(p.ts),
            p.entity,
            p.domain or "-",
            p.risk or "-",
            f"{p.confidence:.2f}",
            f"{p.eta:.0f} s",
            p.outcome.value,
            local_time(p.outcome_ts),
        )
    console().print(rows)


@app.command("tune")
def tune(
    threshold: Annotated[float, typer.Argument(min=0.0, max=1.0, help="Confidence from 0 to 1.")],
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Set the confidence a prediction needs; the running agent takes it within 10 s."""
    with reading_store(data_dir, store_url) as store:
        store.predictions.set_setting(THRESHOLD, repr(threshold), time.time())
    typer.echo(f"crash threshold set to {threshold:g}; a running agent picks it up within 10 s")


def _share(value: object) -> str:
    """A ratio for people: ``n/a`` until there is anything to divide.

    >>> _share(None), _share(0.5)
    ('n/a', '0.50')
    """
    return "n/a" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]
