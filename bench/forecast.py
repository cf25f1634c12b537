"""Forecast accuracy (R² at 1 h and 24 h) and cost on recorded server metrics (ASD).

The data are the Application Server Dataset's 12 servers (19 metrics each, 5-minute
readings over 45 days, read from ``--data``), averaged into 15-minute buckets as the
agent does. Rolling origin: every ``--every`` from day 30 (ASD's test part), the model is run
over the 14 days before the origin and forecasts 1 h and 24 h ahead; it is refitted
every ``--refit`` and only updated (same parameters, new data) in between, as the agent
does. R² is taken per series over all its origins and compared with two naive
forecasts: the value one day before the target time (seasonal naive) and the last
value (persistence). Costs: fit time, update + forecast latency, forecast latency from
a fitted model, and ``setpoint forecast``'s whole path on a SQLite store holding 14
days of one series at the agent's 10 s resolution.

    .venv/bin/python -m bench.forecast [--entities 12] [--metrics 0,3,6] [--sarima] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from setpoint.analyze.base import FloatArray
from setpoint.analyze.forecasting.forecaster import ForecastPolicy, forecast_series
from setpoint.analyze.forecasting.models import FittedModel, ModelSpec, fit
from setpoint.analyze.forecasting.series import load_series
from setpoint.config.durations import parse_duration
from setpoint.knowledge.open import open_store
from setpoint.model import Sample

DAY = 96
"""15-minute buckets per day."""
HORIZONS = {"1h": 4, "24h": 96}
LEVELS = (0.8, 0.95)
TEST_START = 30 * DAY
"""ASD's test part starts after its 30 training days; origins are taken from there."""


@dataclass
class Track:
    """Forecasts and actuals of one series at one horizon, over all origins."""

    model: list[float] = field(default_factory=list)
    seasonal_naive: list[float] = field(default_factory=list)
    persistence: list[float] = field(default_factory=list)
    actual: list[float] = field(default_factory=list)
    inside: dict[float, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))


@dataclass
class Costs:
    """Seconds per fit (wall and CPU), per update + forecast, per forecast from a fit."""

    fit: list[float] = field(default_factory=list)
    fit_cpu: list[float] = field(default_factory=list)
    update: list[float] = field(default_factory=list)
    predict: list[float] = field(default_factory=list)


def r2(predicted: list[float], actual: list[float]) -> float:
    """Coefficient of determination of ``predicted`` against ``actual``."""
    p, a = np.asarray(predicted), np.asarray(actual)
    return float(1 - np.sum((a - p) ** 2) / np.sum((a - a.mean()) ** 2))


def buckets(path: Path, metric: int) -> FloatArray:
    """One ASD metric, train then test, as 15-minute means."""
    with np.load(path) as data:
        x = np.concatenate([data["train"], data["test"]])[:, metric].astype(float)
    means: FloatArray = x[: x.size // 3 * 3].reshape(-1, 3).mean(axis=1)
    return means


def evaluate(s: FloatArray, every: int, refit: int, costs: Costs) -> dict[str, Track]:
    """Rolling-origin forecasts of ``s``; origins every ``every`` buckets."""
    spec = ModelSpec(season=DAY)
    tracks = {name: Track() for name in HORIZONS}
    fitted: FittedModel | None = None
    fitted_at = 0
    for origin in range(TEST_START, s.size - DAY + 1, every):
        window = s[origin - 14 * DAY : origin]
        if fitted is None or origin - fitted_at >= refit:
            started, cpu = time.perf_counter(), time.process_time()
            fitted = model = fit(window, spec)
            fitted_at = origin
            costs.fit.append(time.perf_counter() - started)
            costs.fit_cpu.append(time.process_time() - cpu)
            started = time.perf_counter()
            predictions = model.predict(list(HORIZONS.values()), LEVELS)
            costs.predict.append(time.perf_counter() - started)
        else:
            started = time.perf_counter()
            model = fitted.update(window)
            predictions = model.predict(list(HORIZONS.values()), LEVELS)
            costs.update.append(time.perf_counter() - started)
        for (name, steps), p in zip(HORIZONS.items(), predictions, strict=True):
            truth = float(s[origin + steps - 1])
            track = tracks[name]
            track.model.append(p.mean)
            track.seasonal_naive.append(float(s[origin + steps - 1 - DAY]))
            track.persistence.append(float(s[origin - 1]))
            track.actual.append(truth)
            for band in p.intervals:
                track.inside[band.level] += band.lower <= truth <= band.upper
    return tracks


def store_path_cost(s: FloatArray) -> dict[str, float]:
    """``setpoint forecast``'s path on a real store: 14 days of 10 s samples of one series."""
    now = 1_700_006_400.0 + 14 * 86400
    ts = np.arange(now - 14 * 86400, now, 10.0)
    values = np.interp(ts, now - 14 * 86400 + 900.0 * np.arange(14 * DAY), s[-14 * DAY :])
    with tempfile.TemporaryDirectory() as tmp, open_store(None, Path(tmp)) as store:
        batch = [
            Sample("bench.metric", float(v), float(t)) for t, v in zip(ts, values, strict=True)
        ]
        for start in range(0, len(batch), 8640):
            store.samples.append(batch[start : start + 8640])
        started = time.perf_counter()
        load_series(store.samples, "bench.metric", now, 14 * 86400.0, 900.0)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        forecast_series(store.samples, "bench.metric", now, ForecastPolicy())
        whole = time.perf_counter() - started
    return {"samples": float(ts.size), "load_s": loaded, "load_fit_forecast_s": whole}


def sarima_cost(s: FloatArray) -> dict[str, float]:
    """SARIMA(1,1,1)(1,1,1,24) on 14 days of hourly buckets: fit and forecast time."""
    hourly = s[-15 * DAY : -DAY].reshape(-1, 4).mean(axis=1)
    started, cpu = time.perf_counter(), time.process_time()
    model = fit(hourly, ModelSpec(kind="sarima", season=24))
    fitted, fitted_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    model.predict([1, 24], LEVELS)
    return {"fit_s": fitted, "fit_cpu_s": fitted_cpu, "forecast_s": time.perf_counter() - started}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (0 for none)."""
    return float(np.percentile(values, q)) if values else 0.0


def main() -> None:
    """Run the benchmark and print its tables (or one JSON document)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/datasets/asd"))
    parser.add_argument("--entities", type=int, default=12, help="omi-1 .. omi-N")
    parser.add_argument("--metrics", default="0,3,6", help="ASD metric columns (0-18)")
    parser.add_argument("--every", default="4h", help="time between origins")
    parser.add_argument("--refit", default="24h", help="time between refits")
    parser.add_argument("--sarima", action="store_true", help="also time a SARIMA fit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    every = int(parse_duration(args.every) // 900)
    refit = int(parse_duration(args.refit) // 900)
    metrics = [int(m) for m in args.metrics.split(",")]
    costs = Costs()
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for entity in range(1, args.entities + 1):
        for metric in metrics:
            s = buckets(args.data / f"omi-{entity}.npz", metric)
            if np.std(s[TEST_START - 14 * DAY :]) < 1e-6:
                continue
            tracks = evaluate(s, every, refit, costs)
            row: dict[str, Any] = {"entity": f"omi-{entity}", "metric": metric}
            for name, t in tracks.items():
                n = len(t.actual)
                row[name] = {
                    "origins": n,
                    "r2": r2(t.model, t.actual),
                    "r2_seasonal_naive": r2(t.seasonal_naive, t.actual),
                    "r2_persistence": r2(t.persistence, t.actual),
                    "coverage": {str(level): t.inside[level] / n for level in LEVELS},
                }
            rows.append(row)
    elapsed = time.perf_counter() - started
    report: dict[str, Any] = {
        "series": len(rows),
        "seconds": elapsed,
        "rows": rows,
        "fit_s": {"median": statistics.median(costs.fit), "p95": percentile(costs.fit, 95)},
        "fit_cpu_s": {"median": statistics.median(costs.fit_cpu)},
        "update_forecast_ms": {
            "median": 1000 * statistics.median(costs.update),
            "p95": 1000 * percentile(costs.update, 95),
        },
        "forecast_ms": {
            "median": 1000 * statistics.median(costs.predict),
            "p95": 1000 * percentile(costs.predict, 95),
        },
        "store_path": store_path_cost(buckets(args.data / "omi-1.npz", metrics[-1])),
    }
    if args.sarima:
        report["sarima"] = sarima_cost(buckets(args.data / "omi-1.npz", metrics[-1]))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, metrics)


def print_report(report: dict[str, Any], metrics: list[int]) -> None:
    """Median R² per metric and overall, share of series meeting the goals, costs."""
    rows = report["rows"]
    print(f"{report['series']} series, {report['seconds']:.0f} s")
    header = "metric  horizon  R² ETS  R² seasonal naive  R² persistence  cover 80%  cover 95%"
    print(header)
    groups = [(str(m), [r for r in rows if r["metric"] == m]) for m in metrics] + [("all", rows)]
    for label, group in groups:
        for name in HORIZONS:
            if not group:
                continue
            cells = [r[name] for r in group]
            print(
                f"{label:>6}  {name:>7}  "
                f"{statistics.median(c['r2'] for c in cells):6.2f}  "
                f"{statistics.median(c['r2_seasonal_naive'] for c in cells):17.2f}  "
                f"{statistics.median(c['r2_persistence'] for c in cells):14.2f}  "
                f"{statistics.median(c['coverage']['0.8'] for c in cells):9.2f}  "
                f"{statistics.median(c['coverage']['0.95'] for c in cells):9.2f}"
            )
    meets_1h = sum(r["1h"]["r2"] > 0.7 for r in rows)
    meets_24h = sum(r["24h"]["r2"] > 0.5 for r in rows)
    n = len(rows)
    print(f"series with R² > 0.7 at 1 h: {meets_1h}/{n}; > 0.5 at 24 h: {meets_24h}/{n}")
    print(
        f"fit: median {report['fit_s']['median']:.2f} s"
        f" ({report['fit_cpu_s']['median']:.2f} s CPU), p95 {report['fit_s']['p95']:.2f} s; "
        f"update + forecast: median {report['update_forecast_ms']['median']:.0f} ms, "
        f"p95 {report['update_forecast_ms']['p95']:.0f} ms; forecast from a fitted model: "
        f"median {report['forecast_ms']['median']:.0f} ms"
    )
    sp = report["store_path"]
    print(
        f"store path ({sp['samples']:.0f} samples): load {sp['load_s']:.2f} s, "
        f"load + fit + forecast {sp['load_fit_forecast_s']:.2f} s"
    )
    if "sarima" in report:
        sa = report["sarima"]
        print(
            f"SARIMA(1,1,1)(1,1,1,24), 14 d hourly: fit {sa['fit_s']:.1f} s"
            f" ({sa['fit_cpu_s']:.1f} s CPU), forecast {1000 * sa['forecast_s']:.0f} ms"
        )


if __name__ == "__main__":
    main()
