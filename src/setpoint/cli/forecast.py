"""``setpoint forecast SERIES [--entity E]``: where a stored series is heading, with intervals.

A series is a key on one entity: the host's by default, ``--entity service:web`` for a
service's ``service.rss_bytes``.

The model is fitted on demand on the store's history of the series (ETS takes about a
second on two weeks of 15-minute buckets, SARIMA much longer), so the command needs no
running agent. The model settings come from the config file's ``forecast`` section
when one is given; the options override them.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError

from setpoint.analyze.forecasting.base import ForecastUnavailable, NotEnoughHistory, SeriesForecast
from setpoint.analyze.forecasting.forecaster import forecast_series
from setpoint.analyze.forecasting.series import span
from setpoint.cli.output import JsonFlag, console, fail, local_time, print_json, table
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.config import Config, load_config
from setpoint.config.durations import parse_duration
from setpoint.config.forecast import ForecastConfig
from setpoint.errors import ConfigError
from setpoint.knowledge.base import SampleRepository
from setpoint.model import HOST

OPTIONS = {"horizons": "--horizon", "bucket": "--bucket", "history": "--history"}
"""The option that set each field, to name it in an error."""

RECENT = 5000
"""Newest samples looked at to suggest series and entities when the one asked for has none."""


def parse_horizons(text: str) -> list[float]:
    """Comma-separated durations as seconds.

    >>> parse_horizons("1h, 6h,24h")
    [3600.0, 21600.0, 86400.0]
    """
    try:
        return [parse_duration(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--horizon") from exc


def _settings(
    config: Path | None,
    horizon: str | None,
    bucket: str | None,
    history: str | None,
    model: str | None,
) -> ForecastConfig:
    """The config file's ``forecast`` section (or the defaults) with the options applied."""
    try:
        section = load_config(config).forecast if config else Config().forecast
    except ConfigError as exc:
        fail("\n".join(f"{exc.source}: {p}" for p in exc.problems))
    update: dict[str, object] = {}
    if horizon is not None:
        update["horizons"] = parse_horizons(horizon)
    if bucket is not None:
        update["bucket"] = bucket
    if history is not None:
        update["history"] = history
    if model is not None:
        update["model"] = model
    try:
        return ForecastConfig.model_validate({**section.model_dump(), **update})
    except ValidationError as exc:
        problems = [
            f"{OPTIONS.get(str(e['loc'][0]), 'forecast') if e['loc'] else 'forecast'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        fail("; ".join(problems))


def _hint(samples: SampleRepository, key: str, entity: str) -> str:
    """What the store does hold near the series asked for: its keys, the key's entities."""
    hints = []
    keys = sorted({s.key for s in samples.query(entity=entity, limit=RECENT)})
    if keys:
        hints.append(f"series seen recently on {entity}: {', '.join(keys)}")
    entities = sorted({s.entity for s in samples.query(key=key, limit=RECENT)} - {entity})
    if entities:
        hints.append(f"{key!r} is stored for {', '.join(entities)} (use --entity)")
    return "".join(f"; {hint}" for hint in hints)


def forecast(
    series: Annotated[
        str,
        typer.Argument(help='Series key, e.g. host.load1 or host.disk.used_percent{mount="/"}.'),
    ],
    entity: Annotated[
        str, typer.Option("--entity", "-e", help="Whose series: host, or e.g. service:web.")
    ] = HOST,
    horizon: Annotated[
        str | None, typer.Option("--horizon", help="Comma-separated, e.g. 1h,6h,24h.")
    ] = None,
    bucket: Annotated[
        str | None, typer.Option(help="Bucket the history is averaged into (default 15m).")
    ] = None,
    history: Annotated[
        str | None, typer.Option(help="History the model is fitted on (default 14d).")
    ] = None,
    model: Annotated[
        Literal["ets", "sarima"] | None,
        typer.Option(help="ets (default) or sarima (slow: use it with --bucket 1h)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", dir_okay=False, help="Take the forecast section from here."),
    ] = None,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Forecast a stored series at 1 h / 6 h / 24 h with 80 % and 95 % intervals."""
    settings = _settings(config, horizon, bucket, history, model)
    with reading_store(data_dir, store_url) as store:
        try:
            made = forecast_series(store.samples, series, time.time(), settings.policy(), entity)
        except NotEnoughHistory as exc:
            fail(f"{exc}{_hint(store.samples, series, entity)}")
        except ForecastUnavailable as exc:
            fail(str(exc))
    if as_json:
        print_json(asdict(made))
        return
    _print(made)


def _print(made: SeriesForecast) -> None:
    out = console()
    out.print(
        f"{made.key} ({made.entity}): {made.model} on {span(made.history * made.bucket)}"
        f" of {span(made.bucket)} buckets ({made.filled} filled),"
        f" last bucket ending {local_time(made.origin)}"
    )
    levels = [i.level for i in made.points[0].intervals]
    columns = ["horizon", "time", "forecast"] + [f"{level:.0%} interval" for level in levels]
    rows = table(columns)
    for point in made.points:
        bands = [f"{i.lower:.4g}..{i.upper:.4g}" for i in point.intervals]
        rows.add_row(span(point.horizon), local_time(point.ts), f"{point.mean:.4g}", *bands)
    out.print(rows)
