"""``setpoint bench``: run detectors on public benchmarks and score them.

``bench nab`` writes NAB's official results format for every file of a corpus in
NAB's layout; ``bench nab-score`` scores results with our implementation of NAB's
scoring (:mod:`setpoint.benchmarks.nab_score`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from setpoint.analyze.base import Detector
from setpoint.benchmarks.nab import corpus, read_scores, read_windows, run_corpus, window_rows
from setpoint.benchmarks.nab_score import PROFILES, ScoredFile, score_corpus
from setpoint.cli.bench_mv import mv, mv_score
from setpoint.cli.output import JsonFlag, console, print_json, table
from setpoint.config.loader import default_detectors
from setpoint.errors import PluginError

app = typer.Typer(help="Run detectors on public benchmarks and score them.", no_args_is_help=True)
app.command("mv")(mv)
app.command("mv-score")(mv_score)

DataOption = Annotated[
    Path, typer.Option("--data", exists=True, file_okay=False, help="Corpus in NAB's layout.")
]


@app.command("nab")
def nab(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="Results directory.")],
    detector: Annotated[str, typer.Option(help="Registered detector to run.")] = "onset",
) -> None:
    """Run a detector causally over every file and write NAB's results format.

    Results go to ``<out>/<name>``, the detector's name without ``_`` (NAB's rule).
    """
    try:
        make: Callable[[], Detector] = default_detectors().factory(detector)
    except PluginError as exc:
        raise typer.BadParameter(str(exc), param_hint="--detector") from exc
    out_console = console()
    name = detector.replace("_", "")
    count = run_corpus(data, out, name, make, lambda file: out_console.print(file))
    out_console.print(f"{count} files written to {out / name}")


def _load(results: Path, data: Path) -> list[ScoredFile]:
    windows = read_windows(data)
    files = []
    for series in corpus(data):
        category, name = series.name.split("/")
        path = results / category / f"{results.name}_{name}"
        if not path.exists():
            raise typer.BadParameter(
                f"no results for {series.name} ({path})", param_hint="--results"
            )
        scores = read_scores(path)
        if scores is None or scores.size != series.values.size:
            raise typer.BadParameter(
                f"{path} must hold anomaly_score for its {series.values.size} rows",
                param_hint="--results",
            )
        spans = [window_rows(series.times, s, e) for s, e in windows.get(series.name, [])]
        files.append(ScoredFile(scores, [(a, b) for a, b in spans if a <= b]))
    return files


@app.command("nab-score")
def nab_score(
    results: Annotated[
        Path, typer.Option("--results", exists=True, file_okay=False, help="Results directory.")
    ],
    data: DataOption,
    as_json: JsonFlag = False,
) -> None:
    """Score results with NAB's rules: Standard, Low FP and Low FN, normalised.

    ``--results`` is one detector's folder (``<out>/<detector>``) or the folder of
    several detectors, each scored.
    """
    detectors = (
        [results]
        if any(results.glob("*/*.csv"))
        else sorted(d for d in results.iterdir() if any(d.glob("*/*.csv")))
    )
    if not detectors:
        raise typer.BadParameter(f"no results under {results}", param_hint="--results")
    report = {d.name: score_corpus(_load(d, data)) for d in detectors}
    if as_json:
        print_json(
            {name: {p: vars(r) for p, r in scores.items()} for name, scores in report.items()}
        )
        return
    shown = table(["detector", *PROFILES, "windows found", "false alarms (standard)"])
    for name, scores in report.items():
        std = scores["standard"]
        shown.add_row(
            name,
            *(f"{scores[p].normalised:.1f}" for p in PROFILES),
            f"{std.detected_windows}/{std.windows}",
            str(std.false_alarms),
        )
    console().print(shown)
