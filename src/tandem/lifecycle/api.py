"""REST endpoints for the hand-off: definitions and dry runs, the inbox, routing, the SLA and team calendars."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import require_perm
from tandem.core.keyset import MAX_ID
from tandem.core.periods import period_from_dates
from tandem.crm.models import Person
from tandem.lifecycle.routing_rules import RoutingRules, rules_check
from tandem.lifecycle.selectors import (
    InboxItem,
    definition_dry_run,
    definitions_history,
    inbox_items,
    notifications_recent,
    routing_config_current,
    sla_scorecard,
    team_calendar_view,
    team_calendar_views,
)
from tandem.lifecycle.services import (
    REJECT_REASONS,
    definition_publish,
    mql_accept,
    mql_reject,
    roster_build,
    routing_publish,
    sla_policy_current,
    sla_policy_publish,
    team_calendar_add_holidays,
    team_calendar_set,
)
from tandem.lifecycle.sla_rules import SlaPolicy

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
    require_perm(request, "lifecycle.add_definitionversion", message="Only admins publish definitions (needs permission lifecycle.add_definitionversion)")
    row = definition_publish(stage=data.stage, spec=data.spec, reason=data.reason, by_user=request.user)
    version = definitions_history(stage=row.stage)[row.stage][0]
    return Status(201, version.to_dict())


class DryRunIn(Schema):
    stage: str = "mql"
    spec: dict[str, Any]


@router.post("/definitions/dry-run", response={200: dict, 422: dict}, summary="What a proposed definition would have produced over history (every role)")
def definitions_dry_run(request: HttpRequest, data: DryRunIn) -> Any:
    return definition_dry_run(spec={**data.spec, "name": data.stage}).to_dict()


# --- the rep's inbox ------------------------------------------------------------------------------------------


class RejectIn(Schema):
    reason_code: str
    comment: str = ""


def _inbox_item(item: InboxItem) -> dict[str, Any]:
    p = item.person
    return {
        "person_id": p.pk,
        "name": str(p),
        "email": p.email,
        "mql_at": item.mql_at.isoformat(),
        "deadline": item.deadline.isoformat(),
        "overdue": item.overdue,
        "definition_version": item.rule_version,
        "matched": item.matched,
    }


@router.get("/inbox", response=dict, summary="The signed-in rep's new MQLs with first-touch deadlines (a manager: the team's)")
def inbox_list(request: HttpRequest) -> dict[str, Any]:
    return {"items": [_inbox_item(i) for i in inbox_items(user=request.user)], "reasons": REJECT_REASONS}


def _person(person_id: int) -> Person:
    person = Person.objects.filter(pk=person_id).first() if 0 < person_id <= MAX_ID else None
    if person is None:
        raise NotFound(f"no person with id {person_id}", field="person_id", value=person_id)
    return person


@router.post("/inbox/{person_id}/accept", response={200: dict, 404: dict, 409: dict}, summary="Accept an MQL: it becomes a SAL")
def inbox_accept(request: HttpRequest, person_id: int) -> dict[str, Any]:
    change = mql_accept(person=_person(person_id), by_user=request.user)
    return {"person_id": person_id, "to_stage": change.to_stage, "changed_at": change.changed_at.isoformat()}


@router.post(
    "/inbox/{person_id}/reject",
    response={200: dict, 404: dict, 409: dict, 422: dict},
    summary="Reject an MQL with a reason code (and a comment for 'other'): it goes back to marketing as recycled",
)
def inbox_reject(request: HttpRequest, person_id: int, data: RejectIn) -> dict[str, Any]:
    change = mql_reject(person=_person(person_id), by_user=request.user, reason_code=data.reason_code, comment=data.comment)
    return {"person_id": person_id, "to_stage": change.to_stage, "reason": change.reason, "changed_at": change.changed_at.isoformat()}


@router.get("/notifications", response=dict, summary="The signed-in user's latest in-app notifications (SLA breaches, re-routes)")
def notifications_list(request: HttpRequest) -> dict[str, Any]:
    rows = notifications_recent(user=request.user, limit=50)
    return {
        "items": [
            {"kind": n.kind, "text": n.text, "url": n.url, "created_at": n.created_at.isoformat(), "read": n.read_at is not None}
            for n in rows
        ]
    }


# --- routing and the SLA policy -------------------------------------------------------------------------------


class PublishIn(Schema):
    spec: dict[str, Any]
    reason: str


@router.get("/routing", response=dict, summary="The routing rules in force, in plain words, with warnings")
def routing_get(request: HttpRequest) -> dict[str, Any]:
    config = routing_config_current()
    if config is None:
        return {"version": None, "spec": None, "sentences": [], "warnings": []}
    rules = RoutingRules.from_dict(config.spec)
    return {"version": config.version, "spec": config.spec, "sentences": rules.describe(), "warnings": rules_check(rules, roster_build())}


@router.post("/routing", response={201: dict, 403: dict, 422: dict}, summary="Publish a new version of the routing rules (admins)")
def routing_post(request: HttpRequest, data: PublishIn) -> Any:
    require_perm(request, "lifecycle.add_routingconfig", message="Only admins edit the routing rules (needs permission lifecycle.add_routingconfig)")
    row = routing_publish(spec=data.spec, reason=data.reason, by_user=request.user)
    return Status(201, {"version": row.version, "spec": row.spec, "reason": row.reason})


@router.get("/sla/policy", response=dict, summary="The SLA policy in force, in plain words")
def sla_policy_get(request: HttpRequest) -> dict[str, Any]:
    policy = sla_policy_current()
    return {"policy": policy.to_dict(), "sentences": policy.describe()}


@router.post("/sla/policy", response={201: dict, 403: dict, 422: dict}, summary="Publish a new version of the SLA policy (admins)")
def sla_policy_post(request: HttpRequest, data: PublishIn) -> Any:
    require_perm(request, "lifecycle.add_slapolicyversion", message="Only admins change the SLA policy (needs permission lifecycle.add_slapolicyversion)")
    row = sla_policy_publish(spec=data.spec, reason=data.reason, by_user=request.user)
    return Status(201, {"policy": row.spec, "sentences": SlaPolicy.from_dict(row.spec).describe(), "reason": row.reason})


@router.get("/sla/scorecard", response={200: dict, 422: dict}, summary="Both sides of the SLA for a period: the JSON of `tandem report sla`")
def sla_scorecard_get(request: HttpRequest, date_from: dt.date | None = None, date_to: dt.date | None = None) -> Any:
    start, end = period_from_dates(date_from, date_to)
    return sla_scorecard(start=start, end=end)


# --- team calendars ---------------------------------------------------------------------------------------------


class CalendarIn(Schema):
    time_zone: str
    hours: dict[str, list[list[str]]] | None = None
    holidays: list[Any] = []
    reason: str = ""


class HolidayPresetIn(Schema):
    preset: str
    year_from: int
    year_to: int


def _require_calendar_editor(request: HttpRequest) -> None:
    require_perm(request, "users.change_team", message="Only admins edit team calendars (needs permission users.change_team)")


@router.get("/teams/calendars", response=dict, summary="Every team's business calendar: time zone, working hours, holidays")
def calendars_list(request: HttpRequest) -> dict[str, Any]:
    return {"calendars": [c.to_dict() for c in team_calendar_views()]}


@router.get("/teams/{team_id}/calendar", response={200: dict, 404: dict}, summary="One team's business calendar")
def calendar_get(request: HttpRequest, team_id: int) -> dict[str, Any]:
    return team_calendar_view(team_id=team_id).to_dict()


@router.put(
    "/teams/{team_id}/calendar",
    response={200: dict, 403: dict, 404: dict, 422: dict},
    summary="Replace a team's time zone, working hours (null: Monday–Friday 09:00–17:00) and holidays (admins)",
)
def calendar_put(request: HttpRequest, team_id: int, data: CalendarIn) -> dict[str, Any]:
    _require_calendar_editor(request)
    view = team_calendar_view(team_id=team_id)
    team_calendar_set(team=view.team, time_zone=data.time_zone, hours=data.hours, holidays=data.holidays, by_user=request.user, reason=data.reason)
    return team_calendar_view(team_id=team_id).to_dict()


@router.post(
    "/teams/{team_id}/calendar/holidays",
    response={200: dict, 403: dict, 404: dict, 422: dict},
    summary="Add a preset's public holidays ('us' federal, 'england' bank holidays) for a range of years (admins)",
)
def calendar_holidays_add(request: HttpRequest, team_id: int, data: HolidayPresetIn) -> dict[str, Any]:
    _require_calendar_editor(request)
    view = team_calendar_view(team_id=team_id)
    if data.year_to < data.year_from:
        raise ValidationFailed("year_to must not be before year_from.", field="year_to", value=data.year_to)
    team_calendar_add_holidays(team=view.team, preset=data.preset, years=range(data.year_from, data.year_to + 1), by_user=request.user)
    return team_calendar_view(team_id=team_id).to_dict()
