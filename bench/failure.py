"""Failure predictor: dataset and training time for N rows, prediction latency per row.

Writes a synthetic history (:mod:`tests.unit.analyze.failure_history`: leaky services
whose RSS climbs for 20 minutes before each failure, beside flat ones) into a fresh
SQLite store in a temporary directory, then measures, in CPU seconds of this process:

- building the dataset (reading samples through the store API, and the features);
- training (hold-out model, AUC, final model: xgboost, one thread);
- predicting one row and a batch, with the numpy evaluator the agent uses and with
  xgboost's own ``inplace_predict``;
- the agent's per-minute assessment of every service: the first one (reads the whole
  window) and the later ones (read only the minute stored since).

    .venv/bin/python -m bench.failure [--days 3] [--groups 3] [--every 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.unit.analyze.failure_history import write_history

from setpoint.analyze.failure.dataset import DatasetSpec, build
from setpoint.analyze.failure.features import FEATURE_NAMES
from setpoint.analyze.failure.files import MODEL_FILE, models_dir
from setpoint.analyze.failure.model import load, save, train
from setpoint.analyze.failure.predict import Assessor
from setpoint.analyze.failure.series import HOST_SERIES, SERVICE_SERIES
from setpoint.analyze.failure.series import load as load_series
from setpoint.knowledge.open import open_store


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def per_call(fn: Callable[[], Any], repeat: int) -> float:
    """Median CPU seconds of one call over ``repeat`` calls (in groups of 10)."""
    groups = []
    for _ in range(max(1, repeat // 10)):
        started = time.process_time()
        for _ in range(10):
            fn()
        groups.append((time.process_time() - started) / 10)
    return statistics.median(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--groups", type=int, default=3, help="one leaky and one flat each")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {"days": args.days, "services": 2 * args.groups, "every_s": args.every}
    with tempfile.TemporaryDirectory() as tmp, open_store(None, Path(tmp)) as store:
        end = 1_700_172_900.0
        start = end - args.days * 86400.0
        for g in range(args.groups):
            write_history(
                store,
                start,
                end + 3600.0,
                args.every,
                seed=g,
                leaky=f"service:leaky{g}",
                flat=[f"service:flat{g}"],
                host=g == 0,
            )
        spec = DatasetSpec(history=args.days * 86400.0)
        read_s, _ = cpu(
            lambda: (
                load_series(store.samples, SERVICE_SERIES, start, end),
                load_series(store.samples, HOST_SERIES, start, end, entity="host"),
            )
        )
        samples = round((args.days * 86400.0 / args.every) * (2 * args.groups * 5 + 2))
        build_s, dataset = cpu(lambda: build(store, spec, end))
        out["samples_read"] = samples
        out["read_s"] = round(read_s, 2)
        out["read_us_per_sample"] = round(read_s / samples * 1e6, 1)
        out["features_s"] = round(build_s - read_s, 2)
        out["rows"] = len(dataset.y)
        out["features_us_per_row"] = round((build_s - read_s) / len(dataset.y) * 1e6, 1)
        import_s, _ = cpu(lambda: (__import__("xgboost"), __import__("sklearn.metrics")))
        out["import_xgboost_sklearn_s"] = round(import_s, 2)
        train_s, trained = cpu(lambda: train(dataset, end))
        out["train_s"] = round(train_s, 2)
        out["train_us_per_row"] = round(train_s / len(dataset.y) * 1e6, 1)
        out["positives"], out["failures"] = dataset.positives, dataset.foreseen
        out["auc"] = trained.metrics.auc
        save(trained, models_dir(Path(tmp)))
        model = load(models_dir(Path(tmp)), FEATURE_NAMES)
        one, batch = dataset.x[:1], dataset.x[:1000]
        out["predict_row_us"] = round(per_call(lambda: model.predict(one), 2000) * 1e6, 1)
        out["predict_batch_us_per_row"] = round(
            per_call(lambda: model.predict(batch), 50) / len(batch) * 1e6, 2
        )
        out["explain_row_us"] = round(per_call(lambda: model.top_features(one[0]), 500) * 1e6, 1)
        import xgboost

        booster = xgboost.Booster(model_file=str(models_dir(Path(tmp)) / MODEL_FILE))
        booster.set_param({"nthread": 1})
        out["xgboost_predict_row_us"] = round(
            per_call(lambda: booster.inplace_predict(one), 2000) * 1e6, 1
        )
        assessor = Assessor(model)
        first_s, _ = cpu(lambda: assessor.assess(store, end))
        later, assessed = [], []
        for k in range(1, 31):
            started = time.process_time()
            assessed.append(len(assessor.assess(store, end + 60.0 * k)))
            later.append(time.process_time() - started)
        out["assess_first_ms"] = round(first_s * 1e3, 1)
        out["assess_minute_ms"] = round(statistics.median(later) * 1e3, 2)
        out["assess_minute_ms_per_service"] = round(
            statistics.median(later) * 1e3 / max(statistics.median(assessed), 1), 3
        )
        out["assess_cpu_percent_of_core"] = round(statistics.median(later) / 60.0 * 100, 4)
    if args.json:
        print(json.dumps(out))
        return
    width = max(len(k) for k in out)
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
