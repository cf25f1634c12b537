"""``setpoint patterns``: list, import and export what setpoint learned.

The file format is a JSON array of the seed's pattern records (id, type, context,
metric_conditions, actions, confidence, last_seen) with the verified outcome counts
(successes, failures). An import is checked whole first: every problem is printed with
its index and field, and nothing is stored unless the whole file is valid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from setpoint.cli.output import JsonFlag, console, fail, local_time, print_json, table
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.config.loader import format_loc
from setpoint.errors import KnowledgeError
from setpoint.knowledge.open import open_store
from setpoint.knowledge.patterns import Pattern, beta_confidence
from setpoint.paths import default_data_dir


class PatternDoc(BaseModel):
    """One pattern as exported and imported.

    ``confidence`` may be left out: it is then the posterior mean of the counts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, from_attributes=True)

    id: str = Field(min_length=1)
    type: str = Field(min_length=1, description="observed, learned, or the source's own")
    context: dict[str, Any] = Field(default_factory=dict, description="signature, incidents")
    metric_conditions: dict[str, Any] = Field(default_factory=dict)
    actions: list[dict[str, Any]] = Field(min_length=1, description='[{"action": NAME, ...}]')
    confidence: float | None = Field(None, ge=0, le=1)
    last_seen: float = Field(ge=0, description="seconds since the epoch")
    successes: float = Field(0.0, ge=0)
    failures: float = Field(0.0, ge=0)

    @field_validator("actions")
    @classmethod
    def _named(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, step in enumerate(value):
            if not isinstance(step.get("action"), str) or not step["action"]:
                raise ValueError(f"action {i} needs an 'action' name")
        return value

    def pattern(self) -> Pattern:
        """The stored pattern."""
        confidence = self.confidence
        if confidence is None:
            confidence = beta_confidence(self.successes, self.failures)
        return Pattern(
            self.id,
            self.type,
            self.context,
            self.metric_conditions,
            self.actions,
            confidence,
            self.last_seen,
            self.successes,
            self.failures,
        )


_DOCS = TypeAdapter(list[PatternDoc])

app = typer.Typer(help="Patterns: remediations and how well they worked.")


@app.callback(invoke_without_command=True)
def patterns(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """List patterns with their verified successes, failures and confidence."""
    if ctx.invoked_subcommand is not None:
        return
    with reading_store(data_dir, store_url) as store:
        found = [PatternDoc.model_validate(p) for p in store.patterns.list()]
    if as_json:
        print_json(found)
        return
    rows = table(
        ("id", "type", "signature", "action", "successes", "failures", "confidence", "last_seen"),
        "Patterns",
    )
    for p in found:
        first = p.actions[0]
        params = " ".join(f"{k}={v}" for k, v in first.items() if k != "action")
        rows.add_row(
            p.id,
            p.type,
            str(p.context.get("signature", "")),
            f"{first['action']} {params}".strip(),
            f"{p.successes:g}",
            f"{p.failures:g}",
            f"{p.confidence:.2f}" if p.confidence is not None else "",
            local_time(p.last_seen),
        )
    console().print(rows)


def read_patterns(text: str) -> list[PatternDoc]:
    """Validate a JSON array of patterns; ValueError lists every problem by index and field.

    >>> read_patterns('[{"id": "p", "type": "learned", "actions": [], "last_seen": 0}]')
    Traceback (most recent call last):
    ValueError: [0].actions: List should have at least 1 item after validation, not 0
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    try:
        docs = _DOCS.validate_python(data)
    except ValidationError as exc:
        raise ValueError(
            "\n".join(
                f"{format_loc(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
                for err in exc.errors()
            )
        ) from exc
    ids = [d.id for d in docs]
    twice = [f"[{i}].id: {d!r} is used twice" for i, d in enumerate(ids) if d in ids[:i]]
    if twice:
        raise ValueError("\n".join(twice))
    return docs


@app.command("import")
def import_patterns(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A JSON array.")],
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Store the patterns in FILE (replacing those with the same ids), all or nothing."""
    try:
        docs = read_patterns(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot read: {exc}")
    except ValueError as exc:
        fail(f"{file}: nothing imported:\n{exc}")
    directory = data_dir or default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        store = open_store(store_url, directory)
    except KnowledgeError as exc:
        fail(str(exc))
    try:
        store.patterns.save([d.pattern() for d in docs])
    except KnowledgeError as exc:
        fail(f"nothing imported: {exc}")
    finally:
        store.close()
    typer.echo(f"imported {len(docs)} pattern(s) from {file}")


@app.command("export")
def export_patterns(
    out: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="Write here, not stdout.")
    ] = None,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Print every pattern as a JSON array (the format `patterns import` reads)."""
    with reading_store(data_dir, store_url) as store:
        docs = [PatternDoc.model_validate(p) for p in store.patterns.list()]
    text = json.dumps(_DOCS.dump_python(docs, mode="json"), indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
        return
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write: {exc}")
    typer.echo(f"exported {len(docs)} pattern(s) to {out}", err=True)
