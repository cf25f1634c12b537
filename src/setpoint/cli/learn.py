"""``setpoint learn FILE...`` and ``setpoint similar TEXT``: runbooks in, "seen this before?" out.

Both embed with the embedder chosen by ``--embedder`` (WordLlama unless told
otherwise) in this process: the agent itself never loads an embedding model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.table import Table

from setpoint.cli.output import JsonFlag, console, fail, print_json, table
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.errors import KnowledgeError, PluginError
from setpoint.knowledge.base import KnowledgeStore
from setpoint.knowledge.embedders.base import create_embedder
from setpoint.knowledge.graph import EdgeKind, Match, NodeKind
from setpoint.knowledge.graph_linker import problem_node
from setpoint.knowledge.open import open_store
from setpoint.knowledge.recall import Recall
from setpoint.model import Incident, Symptom
from setpoint.paths import default_data_dir

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "wordllama"

EmbedderName = Annotated[
    str,
    typer.Option(
        "--embedder",
        help="wordllama (default), chargram (no model) or minilm (needs the minilm extra).",
    ),
]


class MatchOut(BaseModel):
    """A node found by similarity, as ``similar --json`` prints it."""

    id: str
    kind: str
    title: str
    body: str
    score: float
    attrs: dict[str, Any]
    success_rate: float | None = None


def recall_for(store: KnowledgeStore, embedder: str, threshold: float = 0.3) -> Recall:
    """A :class:`Recall` over the store's graph; exit 1 when the embedder is unavailable."""
    try:
        return Recall(store.graph, create_embedder(embedder), threshold)
    except PluginError as exc:
        fail(str(exc))


def match_out(store: KnowledgeStore, match: Match) -> MatchOut:
    """The printable form of a match; solutions carry their success rate."""
    node = match.node
    rate = store.graph.success_rate(node.id).rate if node.kind is NodeKind.SOLUTION else None
    return MatchOut(
        id=node.id,
        kind=node.kind.value,
        title=node.title,
        body=node.body,
        score=round(match.score, 4),
        attrs=dict(node.attrs),
        success_rate=rate,
    )


@contextmanager
def _writable_store(data_dir: Path | None, url: str | None) -> Iterator[KnowledgeStore]:
    directory = data_dir or default_data_dir()
    try:
        if url is None:
            directory.mkdir(parents=True, exist_ok=True)
        store = open_store(url, directory)
    except (KnowledgeError, OSError) as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()


def learn(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, readable=True, help="Markdown files."),
    ],
    embedder: EmbedderName = DEFAULT_EMBEDDER,
    threshold: Annotated[
        float,
        typer.Option(
            min=-1.0, max=1.0, help="Cosine above which a section is linked to a problem."
        ),
    ] = 0.3,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Learn markdown runbooks or postmortems: one node per section, embedded and linked."""
    with _writable_store(data_dir, store_url) as store:
        recall = recall_for(store, embedder, threshold)
        for path in files:
            try:
                nodes = recall.learn(path)
            except (OSError, UnicodeDecodeError, KnowledgeError, PluginError) as exc:
                fail(f"{path}: {exc}")
            linked = sum(len(store.graph.edges(n.id, EdgeKind.SIMILAR_TO)) for n in nodes)
            typer.echo(f"{path}: {len(nodes)} section(s), {linked} link(s) to known problems")


def similar(
    text: Annotated[str, typer.Argument(help="What is happening, in words.")],
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many.")] = 5,
    kind: Annotated[
        list[NodeKind] | None, typer.Option(help="Only nodes of this kind (repeatable).")
    ] = None,
    embedder: EmbedderName = DEFAULT_EMBEDDER,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Show the problems, solutions and runbook sections most like TEXT, best first."""
    with reading_store(data_dir, store_url) as store:
        try:
            found = recall_for(store, embedder).similar(text, limit, kind or None)
        except (KnowledgeError, PluginError) as exc:
            fail(str(exc))
        rows = [match_out(store, m) for m in found]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("nothing similar known yet (learn runbooks with `setpoint learn FILE`)")
        return
    console().print(_table(rows))


def _table(rows: Sequence[MatchOut]) -> Table:
    out = table(("score", "kind", "title", "success", "id"))
    for row in rows:
        rate = "" if row.success_rate is None else f"{row.success_rate:.0%}"
        out.add_row(f"{row.score:.3f}", row.kind, row.title, rate, row.id)
    return out


def relevant_runbooks(
    store: KnowledgeStore,
    incident: Incident | None,
    symptoms: Sequence[Symptom],
    limit: int = 3,
    embedder: str = DEFAULT_EMBEDDER,
) -> list[MatchOut]:
    """The runbook sections nearest to an incident's problem, best first.

    Empty, without loading any model, when no runbook was learned; empty with a
    warning when the embedder cannot be loaded, so ``explain`` still shows the rest.
    """
    if incident is None or not store.graph.nodes(NodeKind.RUNBOOK, limit=1):
        return []
    text = problem_node(incident, symptoms).text
    try:
        found = Recall(store.graph, create_embedder(embedder)).similar(
            text, limit, [NodeKind.RUNBOOK]
        )
    except PluginError as exc:
        log.warning("no relevant runbooks: %s", exc)
        return []
    return [match_out(store, m) for m in found]
