"""REST endpoints for the hand-off: definitions and dry runs, the inbox, routing, the SLA and team calendars."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from tandem.core.apiversion import DateFromParam, DateToParam, FromParam, ToParam, date_range_pick
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.core.paging import PAGE_SIZE, CursorParam, LimitParam, page_dict
from tandem.core.periods import period_from_dates
from tandem.crm.models import Person
from tandem.lifecycle.routing_rules import RoutingRules, rules_check
from tandem.lifecycle.selectors import (
    INBOX_AGES,
    INBOX_DEFAULT_AGE,
    INBOX_DEFAULT_SORT,
    INBOX_MAX_PAGE_SIZE,
    INBOX_PAGE_SIZE,
    INBOX_SORTS,
    INBOX_STATE_FILTERS,
    PROPOSAL_MAX_PAGE_SIZE,
    PROPOSAL_PAGE_SIZE,
    definition_dry_run,
    definition_dry_run_compare,
    definitions_history,
    inbox_page,
    notifications_page,
    proposal_approvers,
    proposal_get,
    proposals_page,
    routing_config_current,
    sla_scorecard_cached,
    team_calendar_view,
    team_calendar_views,
)
from tandem.lifecycle.services import (
    APPROVE_PERM,
    PROPOSE_PERM,
    REJECT_REASONS,
    definition_publish,
    mql_accept,
    mql_reject,
    proposal_approve,
    proposal_approver_set,
    proposal_create,
    proposal_reject,
    roster_build,
    routing_publish,
    sla_policy_current,
    sla_policy_publish,
    team_calendar_add_holidays,
    team_calendar_set,
    team_calendar_set_country,
)
from tandem.lifecycle.sla_rules import SlaPolicy
from tandem.users.access import access_check

router = Router(tags=["lifecycle"])


class DefinitionIn(Schema):
    stage: str
    spec: dict[str, Any]
    reason: str
    # Publishing an MQL definition promotes the leads who meet it at once; given, a different number is refused (409).
    expect_promoted: int | None = Field(None, ge=0)


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
@idempotent
def definitions_publish(request: HttpRequest, data: DefinitionIn) -> Any:
    require_perm(request, "lifecycle.add_definitionversion", message="Only admins publish definitions (needs permission lifecycle.add_definitionversion)")
    row = definition_publish(stage=data.stage, spec=data.spec, reason=data.reason, by_user=request.user, expect_promoted=data.expect_promoted)
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


# Query text is refused with a NUL in it (PostgreSQL cannot compare it) and kept short.
InboxText = Annotated[str, Field(max_length=40), NoNul]
InboxCursor = Annotated[str, Field(max_length=2000), NoNul]


class InboxQuery(Schema):
    owner: InboxText = Field("", description="`me`, a user id, or `none` (unassigned, admins); empty: everyone you see")
    state: InboxText = Field("", description=f"one of {', '.join(INBOX_STATE_FILTERS)}; empty: every open MQL")
    channel: InboxText = Field("", description="the lead's source channel (e.g. `webinar`)")
    campaign: InboxText = Field("", description="a campaign id: the lead's latest campaign, else its first")
    age: InboxText = Field(INBOX_DEFAULT_AGE, description=f"when it was handed off: one of {', '.join(INBOX_AGES)}")
    sort: InboxText = Field(INBOX_DEFAULT_SORT, description=f"one of {', '.join(INBOX_SORTS)} (`-` sorts descending)")
    cursor: InboxCursor = Field("", description="`next_cursor` or `prev_cursor` of the page before")
    limit: int = Field(INBOX_PAGE_SIZE, ge=1, le=INBOX_MAX_PAGE_SIZE)


@router.get(
    "/inbox",
    response={200: dict, 422: dict},
    summary="Open MQLs you answer for (a rep: yours, a manager: the team's, an admin: all), filtered, sorted, one keyset page",
)
def inbox_list(request: HttpRequest, filters: Query[InboxQuery]) -> dict[str, Any]:
    page = inbox_page(user=request.user, **filters.dict(), with_choices=False)
    return {**page.to_dict(), "reasons": REJECT_REASONS}


def _person(person_id: int, user: Any) -> Person:
    """The person to answer for: 404 when missing or out of the user's sight, 403 when they may only look."""
    person = Person.objects.filter(pk=person_id).first() if 0 < person_id <= MAX_ID else None
    if person is None:
        raise NotFound(f"no person with id {person_id}", field="person_id", value=person_id)
    return access_check(person, user=user, write=True)


@router.post(
    "/inbox/{person_id}/accept", response={200: dict, 403: dict, 404: dict, 409: dict}, summary="Accept an MQL: it becomes a SAL"
)
def inbox_accept(request: HttpRequest, person_id: int) -> dict[str, Any]:
    change = mql_accept(person=_person(person_id, request.user), by_user=request.user)
    return {"person_id": person_id, "to_stage": change.to_stage, "changed_at": change.changed_at.isoformat()}


@router.post(
    "/inbox/{person_id}/reject",
    response={200: dict, 403: dict, 404: dict, 409: dict, 422: dict},
    summary="Reject an MQL with a reason code (and a comment for 'other'): it goes back to marketing as recycled",
)
def inbox_reject(request: HttpRequest, person_id: int, data: RejectIn) -> dict[str, Any]:
    person = _person(person_id, request.user)
    change = mql_reject(person=person, by_user=request.user, reason_code=data.reason_code, comment=data.comment)
    return {"person_id": person_id, "to_stage": change.to_stage, "reason": change.reason, "changed_at": change.changed_at.isoformat()}


@router.get("/notifications", response=dict, summary="The signed-in user's latest in-app notifications (SLA breaches, re-routes)")
def notifications_list(request: HttpRequest, cursor: CursorParam = "", limit: LimitParam = PAGE_SIZE) -> dict[str, Any]:
    page = notifications_page(user=request.user, cursor=cursor, limit=limit)
    return page_dict(
        page,
        lambda n: {"kind": n.kind, "text": n.text, "url": n.url, "created_at": n.created_at.isoformat(), "read": n.read_at is not None},
    )


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
@idempotent
def routing_post(request: HttpRequest, data: PublishIn) -> Any:
    require_perm(request, "lifecycle.add_routingconfig", message="Only admins edit the routing rules (needs permission lifecycle.add_routingconfig)")
    row = routing_publish(spec=data.spec, reason=data.reason, by_user=request.user)
    return Status(201, {"version": row.version, "spec": row.spec, "reason": row.reason})


@router.get("/sla/policy", response=dict, summary="The SLA policy in force, in plain words")
def sla_policy_get(request: HttpRequest) -> dict[str, Any]:
    policy = sla_policy_current()
    return {"policy": policy.to_dict(), "sentences": policy.describe()}


@router.post("/sla/policy", response={201: dict, 403: dict, 422: dict}, summary="Publish a new version of the SLA policy (admins)")
@idempotent
def sla_policy_post(request: HttpRequest, data: PublishIn) -> Any:
    require_perm(request, "lifecycle.add_slapolicyversion", message="Only admins change the SLA policy (needs permission lifecycle.add_slapolicyversion)")
    row = sla_policy_publish(spec=data.spec, reason=data.reason, by_user=request.user)
    return Status(201, {"policy": row.spec, "sentences": SlaPolicy.from_dict(row.spec).describe(), "reason": row.reason})


@router.get("/sla/scorecard", response={200: dict, 422: dict}, summary="Both sides of the SLA for a period: the JSON of `tandem report sla`")
def sla_scorecard_get(
    request: HttpRequest,
    from_: FromParam = None,
    to: ToParam = None,
    date_from: DateFromParam = None,
    date_to: DateToParam = None,
) -> Any:
    date_from, date_to = date_range_pick(request, from_=from_, to=to, date_from=date_from, date_to=date_to)
    start, end = period_from_dates(date_from, date_to, tz=timezone.get_current_timezone())
    return sla_scorecard_cached(start=start, end=end)


# --- team calendars ---------------------------------------------------------------------------------------------


class CalendarIn(Schema):
    time_zone: str
    hours: dict[str, list[list[str]]] | None = None
    holidays: list[Any] = []
    reason: str = ""
    # Omitted: keep the team's country and subdivision; "": no public holidays.
    country: str | None = None
    subdivision: str | None = None


class HolidayCountryIn(Schema):
    # Either a country (ISO 3166-1) with an optional subdivision, or an old preset name ('us', 'england').
    country: str | None = None
    subdivision: str = ""
    preset: str | None = None
    # Accepted and ignored since the package computes every year (kept for old clients).
    year_from: int | None = None
    year_to: int | None = None
    reason: str = ""


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
    team_calendar_set(
        team=view.team,
        time_zone=data.time_zone,
        hours=data.hours,
        holidays=data.holidays,
        by_user=request.user,
        reason=data.reason,
        country=data.country,
        subdivision=data.subdivision,
    )
    return team_calendar_view(team_id=team_id).to_dict()


@router.get(
    "/teams/{team_id}/calendar/holidays",
    response={200: dict, 404: dict, 422: dict},
    summary="The closed days of a team in a range of years: its country's public holidays and its extra days",
)
def calendar_holidays_list(request: HttpRequest, team_id: int, year_from: int, year_to: int) -> dict[str, Any]:
    view = team_calendar_view(team_id=team_id)
    if year_to < year_from:
        raise ValidationFailed("year_to must not be before year_from.", field="year_to", value=year_to)
    if year_to - year_from >= 50:
        raise ValidationFailed("Ask for at most 50 years of holidays at once.", field="year_to", value=year_to)
    years = range(year_from, year_to + 1)
    return {
        "team_id": view.team.pk,
        "country": view.calendar.country,
        "subdivision": view.calendar.subdivision,
        "public": [{"date": d.isoformat(), "name": n} for d, n in view.public_holidays(years)],
        "extra": [{"date": d.isoformat(), "name": n} for d, n in view.holidays if d.year in years],
    }


@router.post(
    "/teams/{team_id}/calendar/holidays",
    response={200: dict, 403: dict, 404: dict, 422: dict},
    summary="Set the country (ISO 3166-1) and subdivision whose public holidays a team skips, or an old preset (admins)",
)
def calendar_holidays_add(request: HttpRequest, team_id: int, data: HolidayCountryIn) -> dict[str, Any]:
    _require_calendar_editor(request)
    view = team_calendar_view(team_id=team_id)
    if data.preset is not None:
        team_calendar_add_holidays(team=view.team, preset=data.preset, by_user=request.user)
    elif data.country is not None:
        team_calendar_set_country(team=view.team, country=data.country, subdivision=data.subdivision, by_user=request.user, reason=data.reason)
    else:
        raise ValidationFailed("Give a country (ISO 3166-1, e.g. GB) or a preset.", field="country", value=None)
    return team_calendar_view(team_id=team_id).to_dict()


# --- proposals: marketing proposes, an approver publishes or rejects -------------------------------------------


class CompareIn(Schema):
    stage: str = "mql"
    spec: dict[str, Any]


@router.post(
    "/definitions/dry-run/compare",
    response={200: dict, 422: dict},
    summary="The proposed definition's dry run beside the one in force, per month, and how many people publishing it would promote now (every role)",
)
def definitions_dry_run_compare(request: HttpRequest, data: CompareIn) -> Any:
    return definition_dry_run_compare(stage=data.stage, spec=data.spec).to_dict()


class ProposalIn(Schema):
    kind: str = Field(description="`definition`, `routing` or `sla`")
    stage: str = Field("", description="`mql` or `sql` for a definition; empty otherwise")
    spec: dict[str, Any] = Field(description="the proposed document, as `POST /api/definitions`, `/api/routing` or `/api/sla/policy` take it")
    reason: Annotated[str, NoNul]


class ProposalsQuery(Schema):
    status: str = Field("", description="`open`, `published` or `rejected`; empty: all")
    kind: str = Field("", description="`definition`, `routing` or `sla`; empty: all")
    cursor: str = Field("", description="`next_cursor` or `prev_cursor` of the page before")
    limit: int = Field(PROPOSAL_PAGE_SIZE, ge=1, le=PROPOSAL_MAX_PAGE_SIZE)


class ApproveIn(Schema):
    expect_promoted: int | None = Field(
        None, ge=0, description="required for an MQL definition: the `promote_now` of its dry run; refused (409) when publishing would promote a different number"
    )


class RejectProposalIn(Schema):
    reason: Annotated[str, NoNul]


class ApproverIn(Schema):
    allow: bool
    role: str = Field("", description="a role (`marketing`, `sales_manager`…), or empty to name a user")
    username: Annotated[str, NoNul] = ""


@router.post(
    "/proposals",
    response={201: dict, 403: dict, 409: dict, 422: dict},
    summary="Propose a new definition, routing rules or SLA policy (marketing, sales managers, admins)",
)
@idempotent
def proposals_create(request: HttpRequest, data: ProposalIn) -> Any:
    require_perm(request, PROPOSE_PERM, message="Only marketing, sales managers and admins propose changes (needs permission lifecycle.add_changeproposal)")
    proposal = proposal_create(kind=data.kind, stage=data.stage, spec=data.spec, reason=data.reason, by_user=request.user)
    return Status(201, proposal_get(proposal_id=proposal.pk).to_dict())


@router.get("/proposals", response={200: dict, 422: dict}, summary="Proposals newest first, one keyset page at a time")
def proposals_list(request: HttpRequest, filters: Query[ProposalsQuery]) -> Any:
    page = proposals_page(**filters.dict())
    return {"items": [v.to_dict(detail=False) for v in page.items], "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


@router.get("/proposals/approvers", response=dict, summary="Who may approve proposals besides admins: roles and users")
def proposals_approvers_get(request: HttpRequest) -> dict[str, Any]:
    return proposal_approvers()


@router.post(
    "/proposals/approvers",
    response={200: dict, 403: dict, 404: dict, 422: dict},
    summary="Let a role or a user approve proposals, or stop them (admins)",
)
def proposals_approvers_set(request: HttpRequest, data: ApproverIn) -> Any:
    require_perm(request, "users.change_user", message="Only admins choose who approves proposals (needs permission users.change_user)")
    proposal_approver_set(allow=data.allow, role=data.role, username=data.username, by_user=request.user)
    return proposal_approvers()


@router.get("/proposals/{int:proposal_id}", response={200: dict, 404: dict}, summary="One proposal in words beside the version in force")
def proposals_get(request: HttpRequest, proposal_id: Id) -> dict[str, Any]:
    return proposal_get(proposal_id=proposal_id).to_dict()


@router.get(
    "/proposals/{int:proposal_id}/dry-run",
    response={200: dict, 404: dict, 422: dict},
    summary="A definition proposal's dry run beside the definition in force, and how many people approving it would promote now",
)
def proposals_dry_run(request: HttpRequest, proposal_id: Id) -> Any:
    p = proposal_get(proposal_id=proposal_id).proposal
    if p.kind != "definition":
        raise ValidationFailed("Only definition proposals have a dry run.", field="kind", value=p.kind)
    return definition_dry_run_compare(stage=p.stage, spec=p.spec).to_dict()


@router.post(
    "/proposals/{int:proposal_id}/approve",
    response={200: dict, 403: dict, 404: dict, 409: dict, 422: dict},
    summary="Publish a proposal as the next version (admins, or whoever they allow); 409 when another version was published since",
)
def proposals_approve(request: HttpRequest, proposal_id: Id, data: ApproveIn) -> Any:
    require_perm(request, APPROVE_PERM, message="Only admins, or those they allow, approve proposals (needs permission lifecycle.approve_changeproposal)")
    view = proposal_get(proposal_id=proposal_id)
    if view.promotes and data.expect_promoted is None:
        raise ValidationFailed(
            "Publishing an MQL definition promotes people at once: send the promote_now of its dry run as expect_promoted.",
            field="expect_promoted",
            value=None,
        )
    proposal_approve(proposal=view.proposal, by_user=request.user, expect_promoted=data.expect_promoted)
    return proposal_get(proposal_id=proposal_id).to_dict()


@router.post(
    "/proposals/{int:proposal_id}/reject",
    response={200: dict, 403: dict, 404: dict, 409: dict, 422: dict},
    summary="Reject a proposal with a reason (admins, or whoever they allow)",
)
def proposals_reject(request: HttpRequest, proposal_id: Id, data: RejectProposalIn) -> Any:
    require_perm(request, APPROVE_PERM, message="Only admins, or those they allow, reject proposals (needs permission lifecycle.approve_changeproposal)")
    proposal_reject(proposal=proposal_get(proposal_id=proposal_id).proposal, by_user=request.user, reason=data.reason)
    return proposal_get(proposal_id=proposal_id).to_dict()
