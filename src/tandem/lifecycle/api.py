"""REST endpoints for the hand-off: the MQL/SQL definitions and their versions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import AuthorizationError

from tandem.lifecycle.handoff_selectors import definitions_history
from tandem.lifecycle.handoff_services import definition_publish

router = Router(tags=["lifecycle"])


class DefinitionIn(Schema):
    stage: str
    spec: dict[str, Any]
    reason: str


@router.get("/definitions", response=dict, summary="The current MQL and SQL definitions and every version")
def definitions_list(request: HttpRequest) -> dict[str, Any]:
    history = definitions_history()
    return {
        "current": {stage: (versions[0].to_dict() if versions else None) for stage, versions in history.items()},
        "history": {stage: [v.to_dict() for v in versions] for stage, versions in history.items()},
    }


@router.post(
    "/definitions",
    response={201: dict, 403: dict, 409: dict, 422: dict},
    summary="Publish a new version of the MQL or SQL definition (admins)",
)
def definitions_publish(request: HttpRequest, data: DefinitionIn) -> Any:
    if not request.user.has_perm("lifecycle.add_definitionversion"):
        raise AuthorizationError(message="Only admins publish definitions (needs permission lifecycle.add_definitionversion)")
    row = definition_publish(stage=data.stage, spec=data.spec, reason=data.reason, by_user=request.user)
    version = definitions_history(stage=row.stage)[row.stage][0]
    return Status(201, version.to_dict())
