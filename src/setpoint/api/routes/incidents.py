"""``GET /incidents`` and ``GET /incidents/{id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from setpoint.api.schemas import IncidentDetailOut, IncidentOut, SymptomOut
from setpoint.knowledge.base import KnowledgeStore
from setpoint.model import IncidentStatus


def build_router(store: KnowledgeStore) -> APIRouter:
    """Routes reading incidents and their symptoms from ``store``."""
    router = APIRouter(prefix="/incidents", tags=["incidents"])

    @router.get("")
    def list_incidents(
        incident_status: Annotated[IncidentStatus | None, Query(alias="status")] = None,
        entity: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[IncidentOut]:
        """Incidents, newest first, optionally by status and entity."""
        found = store.incidents.list(status=incident_status, entity=entity, limit=limit)
        return [IncidentOut.model_validate(incident) for incident in found]

    @router.get("/{incident_id}", responses={404: {"description": "no such incident"}})
    def get_incident(incident_id: str) -> IncidentDetailOut:
        """One incident with its symptoms and their evidence."""
        incident = store.incidents.get(incident_id)
        if incident is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id!r}")
        symptoms = store.symptoms.for_incident(incident_id)
        return IncidentDetailOut(
            **IncidentOut.model_validate(incident).model_dump(),
            symptoms=[SymptomOut.model_validate(symptom) for symptom in symptoms],
        )

    return router
