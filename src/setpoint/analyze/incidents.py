"""Group the symptoms of one entity into one incident while any of them fires.

An incident opens with its entity's first firing symptom, collects the kinds that
join it, and resolves once every symptom has cleared and ``resolve_after`` seconds
have passed quietly. An escalated incident stays escalated until it resolves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from setpoint.model import Incident, IncidentStatus, Symptom, SymptomState, new_id


@dataclass
class _Open:
    incident: Incident
    active: dict[str, Symptom] = field(default_factory=dict)
    quiet_since: float | None = None


class IncidentTracker:
    """Keeps the open incident of each entity.

    >>> t = IncidentTracker(resolve_after=0)
    >>> fired = Symptom("service.down", "service:web", ts=1.0)
    >>> inc = t.on_symptom(fired)
    >>> inc.status.value, inc.kinds
    ('open', ('service.down',))
    >>> _ = t.on_symptom(fired.cleared(2.0, {"reason": "probe passed"}))
    >>> [i.status.value for i in t.tick(2.0)]
    ['resolved']
    """

    def __init__(self, resolve_after: float) -> None:
        self.resolve_after = resolve_after
        self._open: dict[str, _Open] = {}

    def open_incidents(self) -> list[Incident]:
        """Incidents not yet resolved."""
        return [o.incident for o in self._open.values()]

    def current(self, entity: str) -> Incident | None:
        """The unresolved incident of ``entity``, if any."""
        entry = self._open.get(entity)
        return entry.incident if entry else None

    def on_symptom(self, symptom: Symptom) -> Incident | None:
        """Fold a symptom in; return the incident it changed, if any."""
        entry = self._open.get(symptom.entity)
        if symptom.state is SymptomState.CLEARED:
            if entry is None or entry.active.pop(symptom.clears or "", None) is None:
                return None
            if not entry.active:
                entry.quiet_since = symptom.ts
            return entry.incident
        if entry is None:
            incident = Incident(id=new_id(), entity=symptom.entity, opened_at=symptom.ts)
            entry = self._open[symptom.entity] = _Open(incident)
        entry.active[symptom.id] = symptom
        entry.quiet_since = None
        if symptom.kind not in entry.incident.kinds:
            entry.incident = replace(entry.incident, kinds=(*entry.incident.kinds, symptom.kind))
        return entry.incident

    def escalate(self, entity: str, reason: str) -> Incident | None:
        """Mark the entity's incident escalated: automation gave up, a human must look."""
        entry = self._open.get(entity)
        if entry is None:
            return None
        entry.incident = replace(entry.incident, status=IncidentStatus.ESCALATED, reason=reason)
        return entry.incident

    def tick(self, now: float) -> list[Incident]:
        """Resolve incidents that have been quiet long enough; return them."""
        resolved = []
        for entity, entry in list(self._open.items()):
            if entry.quiet_since is not None and now - entry.quiet_since >= self.resolve_after:
                del self._open[entity]
                resolved.append(
                    replace(entry.incident, status=IncidentStatus.RESOLVED, resolved_at=now)
                )
        return resolved
