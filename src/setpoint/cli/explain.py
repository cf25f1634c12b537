"""``setpoint explain DECISION_ID``: the chain from symptoms to outcome of one decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from setpoint.api.schemas import (
    ApprovalOut,
    AuditEntryOut,
    DecisionOut,
    IncidentOut,
    SymptomOut,
)
from setpoint.cli.learn import MatchOut, relevant_runbooks
from setpoint.cli.output import (
    JsonFlag,
    console,
    fail,
    fields,
    inline,
    local_time,
    print_json,
    scalar,
    table,
)
from setpoint.cli.store import DataDir, StoreUrl, reading_store
from setpoint.knowledge.base import KnowledgeStore

EVIDENCE_ORDER = ("series", "value", "expected", "score", "model", "reason")
"""Evidence keys shown first, in this order; any others follow as stored."""


class Explanation(BaseModel):
    """Everything recorded about one decision, from its symptoms to its outcome."""

    decision: DecisionOut
    incident: IncidentOut | None
    symptoms: list[SymptomOut]
    audit: list[AuditEntryOut]
    approval: ApprovalOut | None = None
    runbooks: list[MatchOut] = []


def explain(
    decision_id: Annotated[str, typer.Argument(help="A decision id, as `decisions` lists.")],
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    store_url: StoreUrl = None,
) -> None:
    """Show why a decision was taken and what came of it, step by step."""
    with reading_store(data_dir, store_url) as store:
        found = gather(store, decision_id)
    if found is None:
        fail(f"no decision {decision_id!r} (list them with `setpoint decisions`)")
    if as_json:
        print_json(found)
    else:
        console().print(render(found))


def gather(store: KnowledgeStore, decision_id: str) -> Explanation | None:
    """Collect the decision, its incident, their symptoms and its audit trail."""
    record = store.decisions.get(decision_id)
    if record is None:
        return None
    incident = store.incidents.get(record.incident_id) if record.incident_id else None
    symptoms = store.symptoms.for_incident(record.incident_id) if record.incident_id else []
    if record.symptom_id and all(s.id != record.symptom_id for s in symptoms):
        trigger = store.symptoms.get(record.symptom_id)
        if trigger is not None:
            symptoms = [*symptoms, trigger]
    return Explanation(
        decision=DecisionOut.model_validate(record),
        incident=IncidentOut.model_validate(incident) if incident else None,
        symptoms=[SymptomOut.model_validate(s) for s in symptoms],
        audit=[AuditEntryOut.model_validate(e) for e in store.audit.list(decision_id, limit=1000)],
        approval=_approval(store, decision_id),
        runbooks=relevant_runbooks(store, incident, symptoms),
    )


def render(found: Explanation) -> RenderableType:
    """Lay the chain out as panels: symptoms, incident, plan, gate, preview, audit, outcome."""
    d = found.decision
    return Group(
        Text(f"Decision {d.id} at {local_time(d.timestamp)}: {d.trigger}", style="bold"),
        _symptoms(found.symptoms, d.symptom_id),
        _fields("Incident", _incident(found.incident)),
        _fields(
            "Plan",
            {
                "playbook": d.playbook,
                "action": f"{d.action} on {d.target}",
                "actions taken": "; ".join(inline(a) for a in d.actions_taken),
                "operational mode": d.operational_mode,
            },
        ),
        _fields("Gate", {"verdict": f"{d.verdict} (mode {d.gate_mode})", "why": d.verdict_reason}),
        Panel(Text(d.preview or "(none recorded)"), title="Preview", title_align="left"),
        _approval_panel(found.approval),
        _audit(found.audit),
        _outcome(d),
        _runbooks(found.runbooks),
    )


def _symptoms(symptoms: list[SymptomOut], trigger_id: str | None) -> Panel:
    rows = table(("", "time", "kind", "entity", "state", "severity", "evidence"))
    for s in symptoms:
        first = {k: s.evidence[k] for k in EVIDENCE_ORDER if k in s.evidence}
        rest = {k: v for k, v in s.evidence.items() if k not in first}
        rows.add_row(
            "*" if s.id == trigger_id else "",
            local_time(s.ts),
            s.kind,
            s.entity,
            s.state,
            s.severity,
            inline({**first, **rest}),
        )
    return Panel(rows, title="Symptoms (* triggered the decision)", title_align="left")


def _incident(incident: IncidentOut | None) -> dict[str, str]:
    if incident is None:
        return {"incident": "(none: the decision answered a lone symptom)"}
    return {
        "id": incident.id,
        "entity": incident.entity,
        "status": incident.status,
        "opened": local_time(incident.opened_at),
        "resolved": local_time(incident.resolved_at) or "(not yet)",
        "kinds": ", ".join(incident.kinds),
        "reason": incident.reason,
    }


def _audit(entries: list[AuditEntryOut]) -> Panel:
    rows = table(("time", "actor", "event", "target", "detail"))
    for e in entries:
        rows.add_row(local_time(e.ts), e.actor, e.event, e.target, inline(e.detail))
    return Panel(rows, title="Audit trail", title_align="left")


def _outcome(d: DecisionOut) -> Group:
    result = _fields(
        "Outcome",
        {
            "outcome": d.outcome or "(none: nothing applied yet)",
            "at": local_time(d.outcome_ts),
            "reward": "" if d.reward_signal is None else f"{d.reward_signal:g}",
            "detail": d.outcome_detail or "",
            "rolled back": _rollback(d.state_after),
            "human feedback": inline(d.human_feedback) if d.human_feedback else "",
        },
    )
    state = table(("key", "before", "after"))
    before, after = d.state_before, d.state_after or {}
    for key in sorted({*before, *after}):
        state.add_row(
            key,
            scalar(before[key]) if key in before else "",
            scalar(after[key]) if key in after else "",
        )
    return Group(result, Panel(state, title="State before and after", title_align="left"))


def _fields(title: str, values: Mapping[str, str]) -> Panel:
    return Panel(fields(values), title=title, title_align="left")


def _runbooks(runbooks: list[MatchOut]) -> Panel:
    if not runbooks:
        return Panel(
            Text("(none learned: see `setpoint learn FILE`)"),
            title="Relevant runbooks",
            title_align="left",
        )
    rows = table(("score", "section", "source"))
    for r in runbooks:
        rows.add_row(f"{r.score:.3f}", r.title, scalar(r.attrs.get("source", "")))
    return Panel(rows, title="Relevant runbooks", title_align="left")


def _approval(store: KnowledgeStore, decision_id: str) -> ApprovalOut | None:
    found = store.approvals.get(decision_id)
    return ApprovalOut.model_validate(found) if found else None


def _approval_panel(approval: ApprovalOut | None) -> Group:
    if approval is None:
        return Group()
    values = {
        "status": approval.status,
        "requested": local_time(approval.requested_at),
        "expires": local_time(approval.expires_at),
        "answered": " ".join(
            part for part in (local_time(approval.decided_at), approval.decided_by) if part
        ),
        "note": approval.note,
    }
    return Group(_fields("Approval", values))


def _rollback(state_after: Mapping[str, Any] | None) -> str:
    """``yes: p50 latency +35 %`` when the action was rolled back, else empty."""
    if not state_after or "rolled_back" not in state_after:
        return ""
    if not state_after["rolled_back"]:
        return "rollback FAILED"
    return f"yes: {state_after.get('rollback_reason', '')}"
