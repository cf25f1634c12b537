"""``setpoint train`` and ``setpoint predict-failure``: the failure predictor by hand.

``train`` builds the labelled dataset from the store, measures AUC on the latest
failures held out, trains on everything and saves the model in the data dir, where a
running agent picks it up within a minute. It needs the ``ml`` extra (xgboost);
``predict-failure`` needs numpy only.
"""

from __future__ import annotations

import importlib.util
import math
import os
import resource
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from setpoint.analyze.failure.dataset import DatasetSpec, build
from setpoint.analyze.failure.features import FEATURE_NAMES
from setpoint.analyze.failure.files import META_FILE, models_dir
from setpoint.analyze.failure.model import load, save
from setpoint.analyze.failure.model import train as train_model
from setpoint.analyze.failure.predict import Assessor
from setpoint.cli.output import JsonFlag, console, fail, fields, local_time, print_json, table
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.config.durations import parse_duration
from setpoint.config.failure import FailureConfig
from setpoint.config.loader import load_config
from setpoint.errors import ConfigError, KnowledgeError
from setpoint.paths import default_data_dir

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML configuration: its knowledge.url and failure section."
    ),
]


def _history(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_duration(value)
        except ValueError as exc:
            raise typer.BadParameter(f"--history: {exc}") from exc
    return value


def _limit_cpu(seconds: float | None, nice: int) -> None:
    """Lower this process's priority and cap its CPU time (SIGXCPU past the budget).

    A process stopped by SIGXCPU would dump core by default: no core file is written.
    """
    if nice:
        os.nice(nice)
    if seconds is not None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = math.ceil(seconds)
        ceiling = soft + 5 if hard == resource.RLIM_INFINITY else min(soft + 5, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (min(soft, ceiling), ceiling))


def train(
    config: ConfigOption = None,
    history: Annotated[
        str | None,
        typer.Option(
            callback=_history, help="How far back to read, e.g. 14d [default: failure.history]."
        ),
    ] = None,
    label_kind: Annotated[
        list[str] | None,
        typer.Option(
            "--label-kind",
            help="Symptom kind that counts as a failure (repeatable)"
            " [default: failure.label_kinds].",
        ),
    ] = None,
    cpu_budget: Annotated[
        float | None,
        typer.Option(min=1.0, help="Stop after this many seconds of CPU time (RLIMIT_CPU)."),
    ] = None,
    nice: Annotated[int, typer.Option(min=0, max=19, help="Run at this niceness.")] = 0,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Train the failure predictor on the store's history and save it in the data dir."""
    _limit_cpu(cpu_budget, nice)
    settings, url = _settings(config)
    if importlib.util.find_spec("xgboost") is None or importlib.util.find_spec("sklearn") is None:
        fail("training needs xgboost and scikit-learn: pip install 'setpoint[ml]'")
    spec = DatasetSpec(
        history=parse_duration(history) if history is not None else settings.history,
        label_kinds=tuple(label_kind or settings.label_kinds),
    )
    directory = data_dir or default_data_dir()
    now = time.time()
    with reading_store(directory, store_url or url) as store:
        try:
            dataset = build(store, spec, now)
        except KnowledgeError as exc:
            fail(str(exc))
    try:
        trained = train_model(dataset, now)
    except KnowledgeError as exc:
        fail(str(exc))
    try:
        path = save(trained, models_dir(directory))
    except OSError as exc:
        fail(f"cannot save the model in {models_dir(directory)}: {exc}")
    metrics = asdict(trained.metrics)
    if as_json:
        print_json({"model": str(path), "trained_at": now, "metrics": metrics})
        return
    out = console()
    out.print(f"failure model saved to {path}")
    out.print(fields({k.replace("_", " "): _shown(v) for k, v in metrics.items()}))


def _settings(config: Path | None) -> tuple[FailureConfig, str | None]:
    """The failure section and store URL of ``config``; the defaults without one."""
    if config is None:
        return FailureConfig(), None
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"{exc.source}: {problem}", err=True)
        raise typer.Exit(2) from exc
    return loaded.failure, loaded.knowledge.url


def _shown(value: Any) -> str:
    """A metric as text; AUC is not measurable when a held-out part lacks a class.

    >>> _shown(None), _shown(0.9), _shown(12)
    ('n/a', '0.9', '12')
    """
    return "n/a" if value is None else str(value)


def predict_failure(
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """P(failure within the model's horizon) of each service now, and what raised it most."""
    directory = models_dir(data_dir or default_data_dir())
    if not (directory / META_FILE).is_file():
        fail(f"no failure model in {directory} (train one with `setpoint train`)")
    try:
        model = load(directory, FEATURE_NAMES)
    except KnowledgeError as exc:
        fail(str(exc))
    now = time.time()
    with reading_store(data_dir, store_url) as store:
        found = Assessor(model).assess(store, now)
    if as_json:
        print_json(
            {
                "ts": now,
                "horizon_s": model.spec.horizon,
                "trained_at": model.trained_at,
                "auc": model.metrics.get("auc"),
                "services": [asdict(a) for a in found],
            }
        )
        return
    out = console()
    out.print(
        f"model trained {local_time(model.trained_at)}, held-out AUC "
        f"{_shown(model.metrics.get('auc'))}; horizon {model.spec.horizon / 60:.0f} min"
    )
    if not found:
        out.print("no service has enough readings in the last window to assess")
        return
    rows = table(("service", "P(failure)", "most raised by"))
    for a in found:
        top = ", ".join(f"{f['feature']}={f['value']}" for f in a.top)
        rows.add_row(a.entity, f"{a.probability:.2f}", top or "-")
    out.print(rows)
