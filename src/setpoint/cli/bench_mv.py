"""``setpoint bench mv`` and ``bench mv-score``: the foveal tier on the ASD layout.

``bench mv`` fits a registered multivariate detector on each entity's ``train`` and
writes its causal scores of ``test`` (:mod:`setpoint.benchmarks.asd`); ``bench
mv-score`` reports F1, F1-PA and PA%K-AUC (:mod:`setpoint.benchmarks.mv_score`).
Both are registered on the ``bench`` group in :mod:`setpoint.cli.bench`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from setpoint.analyze.foveal.base import MultivariateDetector, mv_detectors
from setpoint.benchmarks.asd import corpus, read_scores, run_corpus
from setpoint.benchmarks.mv_score import EntityScore, average, score_entity
from setpoint.cli.output import JsonFlag, console, print_json, table
from setpoint.errors import PluginError

DataOption = Annotated[
    Path, typer.Option("--data", exists=True, file_okay=False, help="Corpus in ASD's layout.")
]


def mv(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="Results directory.")],
    detector: Annotated[
        str, typer.Option(help="Registered multivariate detector.")
    ] = "seasonal_knn",
) -> None:
    """Fit on each entity's train rows, score its test rows causally, write results.

    Results go to ``<out>/<entity>.csv`` with the header ``score``. The default,
    ``seasonal_knn``, scored best on ASD (``docs/benchmarks.md``).
    """
    try:
        make: Callable[[], MultivariateDetector] = mv_detectors().factory(detector)
    except PluginError as exc:
        raise typer.BadParameter(str(exc), param_hint="--detector") from exc
    shown = console()
    count = run_corpus(data, out, make, lambda name: shown.print(name))
    shown.print(f"{count} entities written to {out}")


def _scores(results: Path, data: Path) -> dict[str, EntityScore]:
    report = {}
    for entity in corpus(data):
        path = results / f"{entity.name}.csv"
        if not path.exists():
            raise typer.BadParameter(
                f"no results for {entity.name} ({path})", param_hint="--results"
            )
        scores = read_scores(path)
        if scores is None or scores.size != entity.labels.size:
            raise typer.BadParameter(
                f"{path} must hold 'score' for its {entity.labels.size} rows",
                param_hint="--results",
            )
        report[entity.name] = score_entity(scores, entity.labels)
    if not report:
        raise typer.BadParameter(f"no entities under {data}", param_hint="--data")
    return report


def mv_score(
    results: Annotated[
        Path, typer.Option("--results", exists=True, file_okay=False, help="Results directory.")
    ],
    data: DataOption,
    as_json: JsonFlag = False,
) -> None:
    """Report F1 (no point adjustment), F1-PA and PA%K-AUC, per entity and averaged."""
    report = _scores(results, data)
    report["mean"] = average(list(report.values()))
    if as_json:
        print_json({name: vars(s) for name, s in report.items()})
        return
    shown = table(["entity", "F1", "F1-PA", "PA%K-AUC"])
    for name, s in report.items():
        shown.add_row(name, f"{s.f1:.3f}", f"{s.f1_pa:.3f}", f"{s.pak_auc:.3f}")
    console().print(shown)
