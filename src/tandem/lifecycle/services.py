"""Writes for the hand-off: publishing definition versions and promoting people who meet the MQL definition."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.db.models import Model as _Model
from django.urls import reverse
from django.utils import timezone

from tandem.campaigns.models import Touchpoint
from tandem.core.erasure import rows_mentioning, rows_redact
from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.events import event_record
from tandem.core.links import absolute_url
from tandem.core.models import Event
from tandem.core.versioning import spec_current, spec_publish
from tandem.core.watermark import ids_unseen, watermark_state
from tandem.crm.agenda.selectors import tasks_overdue_unnotified
from tandem.crm.agenda.services import tasks_mark_overdue_notified
from tandem.crm.models import Activity, Person, StageChange
from tandem.crm.services import Transition, people_change_stage_bulk, person_assign_owner, person_change_stage
from tandem.crm.stages import Stage
from tandem.lifecycle.business_hours import (
    BusinessCalendar,
    add_business_minutes,
    calendar_from_stored,
    holiday_entries,
)
from tandem.lifecycle.criteria import (
    DEFINITION_NAMES,
    Definition,
    Touch,
    Touchpoints,
    definition_changes,
    definition_evaluate,
    definition_met,
)
from tandem.lifecycle.holidays import PRESET_LABELS, preset_country
from tandem.lifecycle.models import (
    ChangeProposal,
    DefinitionVersion,
    Notification,
    RoutingConfig,
    RoutingState,
    SlaPolicyVersion,
)
from tandem.lifecycle.routing_rules import Rep, Roster, RoundRobinState, RoutingRules, reroute, route
from tandem.lifecycle.routing_rules import Team as RosterTeam
from tandem.lifecycle.sla_rules import SlaPolicy, first_touch_status
from tandem.scoring.selectors import people_rescored_since, person_score_facts
from tandem.users.models import Team as UserTeam
from tandem.users.services import permission_grant
from tandem.webhooks.services import webhook_emit, webhooks_emit_bulk


def definition_publish(
    *, stage: str, spec: Mapping[str, Any], reason: str, by_user: Any, expect_promoted: int | None = None
) -> DefinitionVersion:
    """Validate a definition and store it as the next version of its stage, with who and why; a new MQL
    definition promotes every lead who meets it at once (refused unless `expect_promoted` people, when given)."""
    return _definition_publish(stage=stage, spec=spec, reason=reason, by_user=by_user, expect_promoted=expect_promoted)[0]


def _definition_publish(
    *, stage: str, spec: Mapping[str, Any], reason: str, by_user: Any, expect_promoted: int | None
) -> tuple[DefinitionVersion, list[int]]:
    if stage not in DEFINITION_NAMES:
        raise ValidationFailed("A definition is for 'mql' or 'sql'.", field="stage", value=stage)
    if not isinstance(spec, Mapping):
        raise ValidationFailed("A definition must be a JSON object.", field="spec", value=spec)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the definition changes (it goes into the history).", field="reason", value=reason)
    named = spec.get("name")
    if named not in (None, "", stage):
        raise ValidationFailed(f"This definition is named {named!r} but is published as {stage!r}.", field="name", value=named)

    def validate(given: Mapping[str, Any], version: int) -> dict[str, Any]:
        # The version is the service's to number: whatever the JSON says is replaced.
        return {"spec": Definition.from_dict({**given, "name": stage, "version": version}).to_dict()}

    def event_data(row: DefinitionVersion, previous: DefinitionVersion | None) -> dict[str, Any]:
        # Read back from the stored specs, as the history page does, so the event and the page agree.
        changes = definition_changes(Definition.from_dict(previous.spec), Definition.from_dict(row.spec)) if previous else []
        return {"stage": stage, "version": row.version, "changes": changes}

    with transaction.atomic():
        row = spec_publish(
            model=DefinitionVersion,
            scope={"stage": stage},
            spec=spec,
            reason=reason,
            by_user=by_user,
            event_kind="definition.published",
            rule=f"definition:{stage}",
            validate=validate,
            event_data=event_data,
            conflict_message="Someone published a version of this definition at the same moment; reload and try again.",
            # A retried publish (the same definition again) is a 409 naming the version in force, never a copy.
            unchanged="refuse",
        )
        # A new MQL definition applies to today's leads at once, not whenever each is next rescored: the
        # promotions are part of the publish, counted beforehand by the dry run (selectors.mql_promotions_preview).
        promoted = _people_qualify_all(as_of=row.created_at) if stage == Stage.MQL.value else []
        if expect_promoted is not None and len(promoted) != expect_promoted:
            raise NotAllowed(
                f"Publishing now promotes {len(promoted)} people, not the {expect_promoted} the dry run showed; "
                "look at the dry run again before publishing.",
                field="expect_promoted",
                value=len(promoted),
            )
        if promoted:
            event_record(
                kind="definition.promoted",
                subject=row,
                actor=by_user,
                rule=f"definition:{stage}",
                rule_version=row.version,
                reason=f"Leads meeting MQL definition v{row.version} when it was published",
                data={"stage": stage, "version": row.version, "promoted": len(promoted)},
            )
    return row, promoted


# --- automatic promotion --------------------------------------------------------------------------------

# Stages from which meeting the MQL definition promotes; recycled people re-qualify on new activity only.
QUALIFYING_STAGES: tuple[str, ...] = ("", Stage.SUBSCRIBER.value, Stage.LEAD.value, Stage.RECYCLED.value)
CHUNK = 2000


def _score_facts(person_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    return person_score_facts(person_ids=person_ids)


def people_facts(*, person_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The flat facts definitions and routing read, per person: profile, account, custom fields and scores."""
    return _facts_of(Person.objects.filter(pk__in=person_ids))


def _facts_of(people: QuerySet[Person]) -> dict[int, dict[str, Any]]:
    facts: dict[int, dict[str, Any]] = {}
    rows = people.values_list(
        "id", "job_title", "consent_email", "consent_calls", "custom_fields", "lifecycle_stage",
        "account__industry", "account__size_band", "account__country", "account__owner_id", "account__custom_fields",
    )
    for pid, title, c_email, c_calls, custom, stage, industry, size, country, owner, account_custom in rows:
        row: dict[str, Any] = {f"account.{k}": v for k, v in (account_custom or {}).items()}
        # Custom fields never shadow the standard facts.
        row.update({k: v for k, v in (custom or {}).items() if isinstance(k, str)})
        row.update(
            job_title=title, consent_email=c_email, consent_calls=c_calls, industry=industry, size_band=size,
            country=country, account_owner_id=owner, lifecycle_stage=stage,
        )
        facts[pid] = row
    for pid, scores in _score_facts(list(facts)).items():
        facts[pid].update(scores)
    return facts


def _touches(
    person_ids: Sequence[int], since: dt.datetime, as_of: dt.datetime, *, id_range: tuple[int, int] | None = None
) -> dict[int, list[Touch]]:
    out: dict[int, list[Touch]] = {}
    rows = Touchpoint.objects.filter(occurred_at__gte=since, occurred_at__lte=as_of)
    # A range of ids reads the same touchpoints as a long IN list, for a fraction of the cost; others' are dropped.
    rows = rows.filter(person_id__gte=id_range[0], person_id__lte=id_range[1]) if id_range else rows.filter(person_id__in=person_ids)
    wanted = set(person_ids)
    for pid, at, kind, channel, campaign in rows.values_list("person_id", "occurred_at", "kind", "channel", "campaign_id"):
        if pid in wanted:
            out.setdefault(pid, []).append(Touch(at, kind, channel, campaign))
    return out


def _recycled_at(person_ids: Sequence[int]) -> dict[int, dt.datetime]:
    rows = (
        StageChange.objects.filter(person_id__in=person_ids, to_stage=Stage.RECYCLED.value)
        .values("person_id")
        .annotate(at=Max("changed_at"))
        .values_list("person_id", "at")
    )
    return dict(rows)


def lead_ids() -> list[int]:
    """Every person an MQL definition can promote (no stage, subscriber, lead, recycled), by id."""
    return list(Person.objects.filter(lifecycle_stage__in=QUALIFYING_STAGES).order_by("id").values_list("id", flat=True))


def qualifying_transitions(
    *, definition: Definition, version: int, person_ids: Sequence[int] | None, at: dt.datetime
) -> list[Transition]:
    """The promotions to MQL `definition` makes among the given people (None: every lead) at `at` (reads only).

    Shared by people_qualify and publishing, which write them, and the dry run, which counts them: so the
    count the page warns of is what publishing does.
    """
    windows = [c.days for c in definition.criteria if isinstance(c, Touchpoints)]
    promoted: list[Transition] = []
    every_lead = person_ids is None
    ids = lead_ids() if person_ids is None else sorted(set(person_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        # Every lead is read by ranges of ids (the same rows as the chunk's id list, without a 2,000-value IN).
        id_range = (chunk[0], chunk[-1]) if every_lead else None
        if id_range:
            facts = _facts_of(Person.objects.filter(id__gte=id_range[0], id__lte=id_range[1], lifecycle_stage__in=QUALIFYING_STAGES))
        else:
            facts = people_facts(person_ids=chunk)
        leads = [pid for pid, f in facts.items() if (f["lifecycle_stage"] or "") in QUALIFYING_STAGES]
        if not leads:
            continue
        touches = _touches(leads, at - dt.timedelta(days=max(windows)), at, id_range=id_range) if windows else {}
        recycled = [pid for pid in leads if facts[pid]["lifecycle_stage"] == Stage.RECYCLED.value]
        since = _recycled_at(recycled) if recycled else {}
        for pid in leads:
            mine = touches.get(pid, [])
            if pid in since:
                mine = [t for t in mine if t.occurred_at > since[pid]]
            if not definition_met(definition, facts[pid], mine, at):
                continue
            result = definition_evaluate(definition, facts[pid], mine, at)
            if result.met:
                promoted.append(
                    Transition(
                        person_id=pid,
                        to_stage=Stage.MQL.value,
                        at=at,
                        rule=f"definition:{Stage.MQL.value}",
                        rule_version=version,
                        reason=f"Met MQL definition v{version}",
                        details={"matched": [m.to_dict() for m in result.matched], "definition": Stage.MQL.value},
                    )
                )
    return promoted


def _people_qualify_all(*, as_of: dt.datetime) -> list[int]:
    """Promote every lead who meets the MQL definition in force (publishing one does this at once)."""
    row = spec_current(model=DefinitionVersion, scope={"stage": Stage.MQL.value})
    if row is None:
        return []
    return _promote(qualifying_transitions(definition=Definition.from_dict(row.spec), version=row.version, person_ids=None, at=as_of))


def _promote(transitions: list[Transition]) -> list[int]:
    """Write the promotions and route the promoted people to reps, in one transaction."""
    if transitions:
        with transaction.atomic():
            people_change_stage_bulk(transitions=transitions)
            owners = people_route(person_ids=[t.person_id for t in transitions])
            webhooks_emit_bulk(event_type="mql.handed_over", items=(_handover_data(t, owners) for t in transitions))
    return [t.person_id for t in transitions]


def _handover_data(t: Transition, owners: dict[int, int | None]) -> dict[str, Any]:
    return {"person_id": t.person_id, "owner_id": owners.get(t.person_id), "definition_version": t.rule_version, "handed_over_at": t.at}


def people_qualify(*, person_ids: Sequence[int], as_of: dt.datetime | None = None) -> list[int]:
    """Promote to MQL every given lead who meets the current MQL definition; returns the promoted ids.

    Each promotion's StageChange records the definition version and the ids and sentences of the criteria
    that matched. Only leads (no stage, subscriber, lead, recycled) are considered; a recycled person's
    touchpoints count only from the moment they were recycled, so a rejection is not undone by old activity.
    """
    if not person_ids:
        return []
    at = as_of or timezone.now()
    row = spec_current(model=DefinitionVersion, scope={"stage": Stage.MQL.value})
    if row is None:
        return []
    return _promote(qualifying_transitions(definition=Definition.from_dict(row.spec), version=row.version, person_ids=person_ids, at=at))


SWEEP_EVENT = "lifecycle.qualify_sweep"
# Profile edits and rescoring are found by their timestamps, which are set before their transaction commits;
# looking this far back again catches a long rescoring that committed after a sweep had passed its time.
CHANGE_LAG = dt.timedelta(minutes=5)


def _score_changed_since(since: dt.datetime, limit: int) -> list[int]:
    return people_rescored_since(since=since, stages=QUALIFYING_STAGES, limit=limit)


def people_qualify_recent(*, as_of: dt.datetime | None = None, limit: int = 50_000) -> list[int]:
    """Qualify the people with new touchpoints, profile changes or score changes since the last sweep.

    Runs every minute from the task queue, so capture stays as fast as it was. Three watermarks live in the
    sweep's event: the last touchpoint id, the time of the last check (profiles by Person.updated_at, scores
    by PersonScore.updated_at, re-read CHANGE_LAG back) and the first sweep's time (history before it is the
    dry run's business). When nothing changed it costs four small queries and writes nothing.
    """
    moment = timezone.now()
    last = Event.objects.filter(kind=SWEEP_EVENT).order_by("-id").values_list("data", flat=True).first() or {}
    if "checked_at" not in last:  # first sweep (or one from before profile and score watermarks)
        after = last.get("last_touchpoint_id")
        if after is None:
            after = Touchpoint.objects.order_by("-id").values_list("id", flat=True).first() or 0
        event_record(
            kind=SWEEP_EVENT,
            reason="watermark set",
            data={"last_touchpoint_id": int(after), "started_at": moment.isoformat(), "checked_at": moment.isoformat(), "people": 0},
        )
        return []
    # Touchpoints by id, including those that commit late under a lower id (core/watermark.py); the state
    # replaced the plain "last_touchpoint_id" of earlier sweeps, which it starts from.
    after = watermark_state(last.get("touchpoints", last.get("last_touchpoint_id", 0)))
    since = max(dt.datetime.fromisoformat(last["checked_at"]) - CHANGE_LAG, dt.datetime.fromisoformat(last["started_at"]))
    rows, touchpoints = ids_unseen(rows=Touchpoint.objects.values_list("id", "person_id"), state=after, limit=limit)
    by_touch = {pid for _, pid in rows}
    by_profile = set(
        Person.objects.filter(updated_at__gt=since, lifecycle_stage__in=QUALIFYING_STAGES).order_by().values_list("id", flat=True)[:limit]
    )
    by_score = set(_score_changed_since(since, limit))
    if not (by_touch or by_profile or by_score):
        return []
    people = sorted(by_touch | by_profile | by_score)
    with transaction.atomic():
        promoted = people_qualify(person_ids=people, as_of=as_of)
        event_record(
            kind=SWEEP_EVENT,
            reason="qualified people with new touchpoints, profile or score changes",
            data={
                "last_touchpoint_id": touchpoints["seen"],
                "touchpoints": touchpoints,
                "started_at": last["started_at"],
                "checked_at": moment.isoformat(),
                "people": len(people),
                "by_touchpoint": len(by_touch),
                "by_profile": len(by_profile),
                "by_score": len(by_score),
                "promoted": len(promoted),
            },
        )
    return promoted


# --- routing -----------------------------------------------------------------------------------------------

REP_ROLES: tuple[str, ...] = ("sales_rep", "sales_manager")


def routing_publish(*, spec: Mapping[str, Any], reason: str, by_user: Any) -> RoutingConfig:
    """Validate routing rules and store them as the next version, with who and why."""
    if not isinstance(spec, Mapping):
        raise ValidationFailed("Routing rules must be a JSON object.", field="spec", value=spec)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the routing changes (it goes into the history).", field="reason", value=reason)
    return spec_publish(
        model=RoutingConfig,
        spec=spec,
        reason=reason,
        by_user=by_user,
        event_kind="routing.published",
        rule="routing",
        validate=lambda given, version: {"spec": RoutingRules.from_dict({**given, "version": version}).to_dict()},
    )


def roster_build() -> Roster:
    """Reps (sales roles, active) and sales teams as routing sees them right now."""
    User = get_user_model()
    users = list(
        User.objects.filter(role__in=REP_ROLES, is_active=True).order_by("id").values_list("id", "username", "is_away", "capacity", "team_id")
    )
    reps = tuple(Rep(id=uid, name=name, is_away=away, capacity=capacity) for uid, name, away, capacity, _ in users)
    members: dict[int, list[int]] = {}
    for uid, _, _, _, team_id in users:
        if team_id is not None:
            members.setdefault(team_id, []).append(uid)
    teams = tuple(
        RosterTeam(id=tid, name=name, members=tuple(members.get(tid, ())))
        for tid, name in UserTeam.objects.order_by("id").values_list("id", "name")
    )
    return Roster(reps=reps, teams=teams)


def people_route(*, person_ids: Sequence[int]) -> dict[int, int | None]:
    """Give each person to a rep by the routing rules in force; returns person id → rep id (None: nobody).

    The round-robin tallies are locked and saved in the same transaction as the assignments.
    """
    config = spec_current(model=RoutingConfig)
    if config is None or not person_ids:
        return {}
    rules = RoutingRules.from_dict(config.spec)
    roster = roster_build()
    out: dict[int, int | None] = {}
    with transaction.atomic():
        holder = RoutingState.objects.select_for_update().filter(pk=1).first() or RoutingState.objects.create(pk=1, state={})
        state = RoundRobinState.from_dict(holder.state or {})
        facts = people_facts(person_ids=person_ids)
        people = Person.objects.in_bulk(list(facts))
        owners = get_user_model().objects.in_bulk([r.id for r in roster.reps])
        for pid in sorted(facts):
            routed = route(facts[pid], rules, roster, state)
            state = routed.state
            a = routed.assignment
            out[pid] = a.rep_id
            if a.rep_id is not None:
                person_assign_owner(
                    person=people[pid], owner=owners[a.rep_id], rule=f"routing:{a.rule_id}@v{config.version}", reason=a.explanation
                )
        holder.state = state.to_dict()
        holder.save(update_fields=["state", "updated_at"])
    return out


# --- the rep's answer: accept or reject ----------------------------------------------------------------------

REJECT_REASONS: dict[str, str] = {
    "wrong_person": "Wrong person",
    "no_budget": "No budget",
    "no_need": "No need",
    "duplicate": "Duplicate",
    "bad_data": "Bad data",
    "student": "Student / job seeker",
    "competitor": "Competitor",
    "other": "Other",
}


def _check_handler(person: Person, user: Any) -> None:
    if person.lifecycle_stage != Stage.MQL.value:
        raise NotAllowed(f"{person} is not a new MQL any more.", field="lifecycle_stage", value=person.lifecycle_stage)
    mine = person.owner_id == getattr(user, "pk", None)
    if not (mine or getattr(user, "role", "") in ("sales_manager", "admin") or getattr(user, "is_superuser", False)):
        raise NotAllowed("Only the lead's owner (or a sales manager) answers for it.", field="owner", value=person.owner_id)


def mql_accept(*, person: Person, by_user: Any) -> StageChange:
    """Sales accepts an MQL: it becomes a SAL."""
    _check_handler(person, by_user)
    with transaction.atomic():
        change = person_change_stage(person=person, to_stage=Stage.SAL.value, by_user=by_user, rule="inbox:accept", reason="Accepted by sales")
        webhook_emit(event_type="mql.accepted", data={"person_id": person.pk, "by_user_id": change.by_user_id, "at": change.changed_at})
    return change


def mql_reject(*, person: Person, by_user: Any, reason_code: str, comment: str = "") -> StageChange:
    """Sales rejects an MQL with a reason: it goes back to marketing as recycled, tagged with its campaign."""
    if reason_code not in REJECT_REASONS:
        raise ValidationFailed(f"Unknown reason; use one of {', '.join(REJECT_REASONS)}.", field="reason_code", value=reason_code)
    comment = (comment or "").strip()
    if reason_code == "other" and not comment:
        raise ValidationFailed("Say what the other reason is.", field="comment", value=None)
    _check_handler(person, by_user)
    campaign_id = person.latest_campaign_id or person.original_campaign_id
    with transaction.atomic():
        change = person_change_stage(
            person=person,
            to_stage=Stage.RECYCLED.value,
            by_user=by_user,
            rule="inbox:reject",
            reason=REJECT_REASONS[reason_code] + (f": {comment}" if comment else ""),
            details={"reason_code": reason_code, "comment": comment, "campaign_id": campaign_id},
        )
        data = {"person_id": person.pk, "by_user_id": change.by_user_id, "at": change.changed_at, "reason_code": reason_code, "reason": change.reason}
        webhook_emit(event_type="mql.rejected", data=data)
    return change


# --- the SLA: policy versions and breach detection -----------------------------------------------------------

BREACH_EVENT = "sla.first_touch_breached"
BREACH_EMAIL_EVENT = "sla.breach_emailed"
REROUTE_EVENT = "sla.rerouted"
REROUTE_EMAIL_EVENT = "sla.reroute_emailed"


def sla_policy_current() -> SlaPolicy:
    """The SLA policy in force (the defaults of SlaPolicy until an admin publishes one)."""
    row = spec_current(model=SlaPolicyVersion)
    return SlaPolicy.from_dict(row.spec) if row else SlaPolicy()


def sla_policy_publish(*, spec: Mapping[str, Any], reason: str, by_user: Any) -> SlaPolicyVersion:
    """Validate an SLA policy and store it as the next version, with who and why."""
    if not isinstance(spec, Mapping):
        raise ValidationFailed("The SLA policy must be a JSON object.", field="spec", value=spec)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the SLA changes (it goes into the history).", field="reason", value=reason)
    return spec_publish(
        model=SlaPolicyVersion,
        spec=spec,
        reason=reason,
        by_user=by_user,
        event_kind="sla.published",
        rule="sla",
        validate=lambda given, version: {"spec": SlaPolicy.from_dict({**given, "version": version}).to_dict()},
    )


def team_calendars() -> dict[int, BusinessCalendar]:
    """Every team's business calendar by team id (one query); see `calendar_for_team` for teamless owners."""
    return {tid: calendar_from_stored(zone, stored) for tid, zone, stored in UserTeam.objects.values_list("id", "time_zone", "calendar")}


DEFAULT_CALENDAR = BusinessCalendar()


def calendar_for_team(calendars: Mapping[int, BusinessCalendar], team_id: int | None) -> BusinessCalendar:
    """The calendar the SLA uses for an owner's team: the team's own, else Monday–Friday 09:00–17:00 UTC."""
    return calendars.get(team_id, DEFAULT_CALENDAR) if team_id is not None else DEFAULT_CALENDAR


def _can_edit_calendar(user: Any) -> bool:
    return user is None or bool(getattr(user, "has_perm", lambda _p: False)("users.change_team"))


@transaction.atomic
def team_calendar_set(
    *,
    team: UserTeam,
    time_zone: str,
    hours: Mapping[str, Any] | None,
    holidays: Sequence[Any],
    by_user: Any,
    reason: str = "",
    country: str | None = None,
    subdivision: str | None = None,
) -> UserTeam:
    """Set a team's time zone, working hours (None: Monday–Friday 09:00–17:00), holiday country (None: keep) and extra holidays (admins)."""
    if not _can_edit_calendar(by_user):
        raise NotAllowed("Only admins edit team calendars.", field="team", value=team.pk)
    current = team.calendar or {}
    if country is None:
        country = current.get("country") or ""
        if subdivision is None:
            subdivision = current.get("subdivision") or ""
    entries = holiday_entries(holidays)
    calendar = BusinessCalendar.from_dict(
        {
            "time_zone": (time_zone or "").strip() or "UTC",
            "hours": hours,
            "holidays": [d.isoformat() for d, _ in entries],
            "country": country,
            "subdivision": subdivision or "",
        }
    )
    stored: dict[str, Any] = {"holidays": [{"date": d.isoformat(), "name": name} for d, name in entries]}
    if calendar.country:
        stored["country"] = calendar.country
        stored["subdivision"] = calendar.subdivision
    if hours is not None:
        stored["hours"] = calendar.to_dict()["hours"]
    before = {"time_zone": team.time_zone, "calendar": team.calendar}
    team.time_zone = calendar.time_zone
    team.calendar = stored
    team.save(update_fields=["time_zone", "calendar"])
    event_record(
        kind="team.calendar_changed",
        subject=team,
        actor=by_user,
        reason=(reason or "").strip(),
        data={"from": before, "to": {"time_zone": team.time_zone, "calendar": stored}},
    )
    return team


def team_calendar_set_country(*, team: UserTeam, country: str, subdivision: str = "", by_user: Any, reason: str = "") -> UserTeam:
    """Set the country (ISO 3166-1, "" for none) and subdivision whose public holidays a team's calendar skips (admins)."""
    stored = team.calendar or {}
    return team_calendar_set(
        team=team,
        time_zone=team.time_zone,
        hours=stored.get("hours"),
        holidays=stored.get("holidays") or [],
        by_user=by_user,
        reason=reason or f"Public holidays of {'-'.join(p for p in (country.strip().upper(), subdivision.strip()) if p) or 'no country'}",
        country=country,
        subdivision=subdivision,
    )


def team_calendar_add_holidays(*, team: UserTeam, preset: str, years: range | None = None, by_user: Any) -> UserTeam:
    """Old presets ('us', 'england'): set the team's holiday country to US or GB-ENG (every year, so `years` is unused)."""
    country, subdivision = preset_country(preset)
    return team_calendar_set_country(team=team, country=country, subdivision=subdivision, by_user=by_user, reason=PRESET_LABELS[preset])


class _OpenMql(NamedTuple):
    person_id: int
    owner_id: int
    team_id: int | None
    manager_id: int | None
    name: str
    handoff_at: dt.datetime
    touches: list[dt.datetime]


def _open_mqls() -> list[_OpenMql]:
    """Owned MQLs with their latest hand-off and every logged touch: activities of a kind that counts as a touch
    (a note does not) (three queries)."""
    people = list(
        Person.objects.filter(lifecycle_stage=Stage.MQL.value, owner__isnull=False).values_list(
            "id", "owner_id", "owner__team_id", "owner__team__manager_id", "first_name", "last_name", "email"
        )
    )
    if not people:
        return []
    ids = [p[0] for p in people]
    handoff: dict[int, dt.datetime] = {}
    for pid, at in StageChange.objects.filter(person_id__in=ids, to_stage=Stage.MQL.value).order_by("changed_at", "id").values_list("person_id", "changed_at"):
        handoff[pid] = at
    touches: dict[int, list[dt.datetime]] = {}
    for pid, at in Activity.objects.filter(person_id__in=ids, kind__counts_as_touch=True).values_list(
        "person_id", "occurred_at"
    ):
        touches.setdefault(pid, []).append(at)
    return [
        _OpenMql(pid, owner, team, manager, f"{first} {last}".strip() or email or f"person #{pid}", handoff[pid], touches.get(pid, []))
        for pid, owner, team, manager, first, last, email in people
        if pid in handoff
    ]


def _handled(kind: str, ids: Sequence[int]) -> set[tuple[int, str]]:
    """(person id, hand-off) pairs an SLA event of `kind` was already recorded for."""
    rows = Event.objects.filter(kind=kind, subject_type="crm.person", subject_id__in=ids).values_list("subject_id", "data")
    return {(sid, str((data or {}).get("handoff_at"))) for sid, data in rows if sid is not None}


class _Mail(NamedTuple):
    person_id: int
    subject: str
    body: str
    user_ids: tuple[int, ...]


def sla_email_configured() -> bool:
    """Whether SLA emails go out: only when an SMTP host is configured (TANDEM_SMTP_HOST)."""
    return bool(getattr(settings, "EMAIL_HOST", ""))


def _mails_after_commit(mails: Sequence[_Mail], *, kind: str) -> None:
    """Send the mails once the transaction commits (a rolled-back breach sends nothing); each person's
    mail is recorded in an event of `kind`, with the addresses, or the error when the server refused."""
    if not mails or not sla_email_configured():
        return
    addresses = dict(
        get_user_model().objects.filter(pk__in={u for m in mails for u in m.user_ids}, is_active=True).exclude(email="").values_list("pk", "email")
    )

    def send() -> None:
        with mail.get_connection(fail_silently=False) as connection:
            for m in mails:
                to = sorted({addresses[u] for u in m.user_ids if u in addresses})
                if not to:
                    continue
                data: dict[str, Any] = {"to": to, "subject": m.subject}
                try:
                    mail.EmailMessage(m.subject, m.body, settings.DEFAULT_FROM_EMAIL, to, connection=connection).send()
                except (OSError, mail.BadHeaderError) as exc:  # smtplib errors are OSErrors
                    data["error"] = f"{type(exc).__name__}: {exc}"
                event_record(kind=kind, subject_type="crm.person", subject_id=m.person_id, rule="sla", data=data)

    transaction.on_commit(send)


def sla_breaches_detect(*, now: dt.datetime | None = None) -> list[int]:
    """Find MQLs whose first-touch deadline has passed untouched; record each breach once and notify the
    owner and the owner's team manager in the app (and by email when SMTP is configured). Returns the ids
    of the people newly breached.

    A touch is a sales activity of a kind that counts as a touch (call, email, meeting…; not a note) logged on
    the person at or after the hand-off;
    business hours are those of the owner's team calendar.
    """
    moment = now or timezone.now()
    policy = sla_policy_current()
    mqls = _open_mqls()
    if not mqls:
        return []
    already = _handled(BREACH_EVENT, [m.person_id for m in mqls])
    calendars = team_calendars()
    breached: list[int] = []
    notes: list[Notification] = []
    mails: list[_Mail] = []
    with transaction.atomic():
        for m in mqls:
            calendar = calendar_for_team(calendars, m.team_id)
            status = first_touch_status(m.handoff_at, m.touches, calendar, policy, moment)
            if status.state != "breached" or (m.person_id, m.handoff_at.isoformat()) in already:
                continue
            event_record(
                kind=BREACH_EVENT,
                subject_type="crm.person",
                subject_id=m.person_id,
                rule="sla",
                rule_version=policy.version,
                reason=status.explanation,
                data={"handoff_at": m.handoff_at.isoformat(), "deadline": status.deadline.isoformat(), "owner": m.owner_id},
                occurred_at=status.deadline,
            )
            text = f"SLA breached: {m.name} was not touched by {status.deadline:%Y-%m-%d %H:%M} UTC."
            recipients = tuple(sorted({m.owner_id} | ({m.manager_id} if m.manager_id is not None else set())))
            for user_id in recipients:
                notes.append(Notification(user_id=user_id, kind="sla_breach", text=text, url=f"/people/{m.person_id}/", created_at=moment))
            local = status.deadline.astimezone(calendar.zone)
            body = (
                f"{text}\n\nThe MQL was handed over on {m.handoff_at:%Y-%m-%d %H:%M} UTC; the first touch was due within "
                f"{policy.first_touch_hours:g} business hours, by {local:%Y-%m-%d %H:%M} {calendar.time_zone}.\n"
                f"Open the lead: {absolute_url(f'/people/{m.person_id}/')}\n"
            )
            mails.append(_Mail(m.person_id, f"[Tandem] SLA breached: {m.name}", body, recipients))
            breached.append(m.person_id)
            webhook_emit(
                event_type="sla.breached",
                data={"person_id": m.person_id, "owner_id": m.owner_id, "handed_over_at": m.handoff_at, "deadline": status.deadline, "sla_version": policy.version},
                occurred_at=status.deadline,
            )
        Notification.objects.bulk_create(notes)
        _mails_after_commit(mails, kind=BREACH_EMAIL_EVENT)
    return breached


def sla_reroutes_apply(*, now: dt.datetime | None = None) -> list[int]:
    """Re-route MQLs still untouched `reroute_after_hours` business hours after their first-touch breach:
    the routing rules in force choose another rep (never the current owner); the assignment is recorded with
    rule "sla.reroute" and the reason, and both reps are notified (and emailed when SMTP is configured).

    Each hand-off is re-routed at most once, so a lead does not bounce between reps. Returns the re-routed ids.
    """
    moment = now or timezone.now()
    policy = sla_policy_current()
    config = spec_current(model=RoutingConfig)
    if policy.reroute_after_hours is None or config is None:
        return []
    mqls = _open_mqls()
    if not mqls:
        return []
    already = _handled(REROUTE_EVENT, [m.person_id for m in mqls])
    calendars = team_calendars()
    due: list[tuple[_OpenMql, dt.datetime]] = []
    for m in mqls:
        if (m.person_id, m.handoff_at.isoformat()) in already:
            continue
        calendar = calendar_for_team(calendars, m.team_id)
        status = first_touch_status(m.handoff_at, m.touches, calendar, policy, moment)
        if status.state != "breached" or status.touched_at is not None:
            continue
        if moment >= add_business_minutes(status.deadline, policy.reroute_after_hours * 60.0, calendar):
            due.append((m, status.deadline))
    if not due:
        return []
    rules = RoutingRules.from_dict(config.spec)
    roster = roster_build()
    User = get_user_model()
    moved: list[int] = []
    with transaction.atomic():
        holder = RoutingState.objects.select_for_update().filter(pk=1).first() or RoutingState.objects.create(pk=1, state={})
        state = RoundRobinState.from_dict(holder.state or {})
        facts = people_facts(person_ids=[m.person_id for m, _ in due])
        people = Person.objects.in_bulk([m.person_id for m, _ in due])
        users = User.objects.in_bulk([r.id for r in roster.reps] + [m.owner_id for m, _ in due])
        notes: list[Notification] = []
        mails: list[_Mail] = []
        after = f"{policy.reroute_after_hours:g} business hours"
        for m, deadline in due:
            routed = reroute(facts[m.person_id], rules, roster, state, exclude_rep_id=m.owner_id)
            state = routed.state
            a = routed.assignment
            reason = f"Untouched {after} after the first-touch SLA breach (due {deadline:%Y-%m-%d %H:%M} UTC)"
            event_record(
                kind=REROUTE_EVENT,
                subject_type="crm.person",
                subject_id=m.person_id,
                rule="sla.reroute",
                rule_version=policy.version,
                reason=f"{reason}; {a.explanation}",
                data={"handoff_at": m.handoff_at.isoformat(), "from": m.owner_id, "to": a.rep_id, "routing_rule": a.rule_id},
            )
            if a.rep_id is None:  # nobody else is available: the lead stays, the event says why
                continue
            person_assign_owner(person=people[m.person_id], owner=users[a.rep_id], rule="sla.reroute", reason=f"{reason}; {a.explanation}")
            old, new = users.get(m.owner_id), users[a.rep_id]
            url = f"/people/{m.person_id}/"
            notes += [
                Notification(user_id=m.owner_id, kind="sla_reroute", text=f"Re-routed: {m.name} went to {new}, untouched {after} after the SLA breach.", url=url, created_at=moment),
                Notification(user_id=a.rep_id, kind="sla_reroute", text=f"Re-routed to you: {m.name}, untouched by {old} {after} after the SLA breach. Please touch it now.", url=url, created_at=moment),
            ]
            body = f"{m.name} was re-routed from {old} to {new}: {reason}.\nRouting: {a.explanation}\nOpen the lead: {absolute_url(url)}\n"
            mails.append(_Mail(m.person_id, f"[Tandem] Re-routed: {m.name}", body, (m.owner_id, a.rep_id)))
            moved.append(m.person_id)
        holder.state = state.to_dict()
        holder.save(update_fields=["state", "updated_at"])
        Notification.objects.bulk_create(notes)
        _mails_after_commit(mails, kind=REROUTE_EMAIL_EVENT)
    return moved


def notifications_mark_read(*, notifications: Sequence[Notification]) -> int:
    """Mark the unread ones among these notifications as read (the inbox shows each as new once)."""
    unread = [n.pk for n in notifications if n.read_at is None]
    if not unread:
        return 0
    return Notification.objects.filter(pk__in=unread).update(read_at=timezone.now())


def admins_notify(*, kind: str, text: str, url: str) -> int:
    """Tell every active admin in the app (webhooks registers this to report a disabled endpoint)."""
    admins = get_user_model().objects.filter(is_active=True).filter(Q(role="admin") | Q(is_superuser=True))
    now = timezone.now()
    notes = [Notification(user_id=pk, kind=kind, text=text[:2000], url=url, created_at=now) for pk in admins.values_list("pk", flat=True)]
    Notification.objects.bulk_create(notes)
    return len(notes)


# --- overdue tasks: their owners are told once, in the app, as SLA breaches are ------------------------------

TASK_OVERDUE_BATCH = 500


def tasks_overdue_notify(*, now: dt.datetime | None = None) -> list[int]:
    """Tell each owner once, with an in-app notification, about each of their open tasks past its due time
    (at most TASK_OVERDUE_BATCH a run, longest overdue first); crm.agenda marks them. Returns the task ids."""
    moment = now or timezone.now()
    with transaction.atomic():
        due = tasks_overdue_unnotified(now=moment, limit=TASK_OVERDUE_BATCH)
        if not due:
            return []
        marked = set(tasks_mark_overdue_notified(task_ids=[t.id for t in due], at=moment))
        url = reverse("agenda:mine") + "?state=overdue"
        notes = [
            Notification(
                user_id=t.owner_id,
                kind="task_overdue",
                text=f"Task overdue: {t.title} (due {_local(t.due_at, t.time_zone)}).",
                url=url,
                created_at=moment,
            )
            for t in due
            if t.id in marked
        ]
        Notification.objects.bulk_create(notes)
        webhooks_emit_bulk(
            event_type="task.due",
            items=({"task_id": t.id, "title": t.title, "owner_id": t.owner_id, "due_at": t.due_at, "person_id": t.person_id} for t in due if t.id in marked),
        )
    return sorted(marked)


def _local(moment: dt.datetime, zone_name: str) -> str:
    # The owner reads the due time on their own clock; an unknown zone name reads as UTC.
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return f"{moment.astimezone(zone):%a %d %b %H:%M} {zone.key}"


# --- proposals: marketing proposes a change, an approver publishes or rejects it -------------------------------

PROPOSE_PERM = "lifecycle.add_changeproposal"
APPROVE_PERM = "lifecycle.approve_changeproposal"
PROPOSAL_KINDS: tuple[str, ...] = tuple(ChangeProposal.Kind.values)


def proposal_spec(*, kind: str, spec: Mapping[str, Any], stage: str = "") -> dict[str, Any]:
    """The proposed spec checked as the publish service would and in the form it stores (without a version)."""
    if kind not in PROPOSAL_KINDS:
        raise ValidationFailed(f"A proposal is for one of {', '.join(PROPOSAL_KINDS)}.", field="kind", value=kind)
    if not isinstance(spec, Mapping):
        raise ValidationFailed("The proposed spec must be an object.", field="spec", value=spec)
    if "\\u0000" in json.dumps(spec, default=str):
        raise ValidationFailed("spec must not contain NUL characters", field="spec", value="\\u0000")
    if kind == ChangeProposal.Kind.DEFINITION:
        if stage not in DEFINITION_NAMES:
            raise ValidationFailed("A definition is for 'mql' or 'sql'.", field="stage", value=stage)
        named = spec.get("name")
        if named not in (None, "", stage):
            raise ValidationFailed(f"This definition is named {named!r} but is proposed as {stage!r}.", field="name", value=named)
        stored = Definition.from_dict({**spec, "name": stage, "version": 1}).to_dict()
        del stored["name"]
    elif stage:
        raise ValidationFailed("Only definitions have a stage.", field="stage", value=stage)
    elif kind == ChangeProposal.Kind.ROUTING:
        stored = RoutingRules.from_dict(spec).to_dict()
    else:
        stored = SlaPolicy.from_dict(spec).to_dict()
    del stored["version"]
    return stored


def _version_row(kind: str, stage: str) -> DefinitionVersion | RoutingConfig | SlaPolicyVersion | None:
    if kind == ChangeProposal.Kind.DEFINITION:
        return spec_current(model=DefinitionVersion, scope={"stage": stage})
    if kind == ChangeProposal.Kind.ROUTING:
        return spec_current(model=RoutingConfig)
    return spec_current(model=SlaPolicyVersion)


def version_in_force(*, kind: str, stage: str = "") -> int:
    """The version of a definition, the routing rules or the SLA policy in force (0: none published)."""
    row = _version_row(kind, stage)
    return row.version if row else 0


def _require(user: Any, perm: str, message: str) -> None:
    if not getattr(user, "pk", None) or not user.has_perm(perm):
        raise NotAllowed(message, field="user", value=getattr(user, "username", None))


@transaction.atomic
def proposal_create(*, kind: str, spec: Mapping[str, Any], reason: str, by_user: Any, stage: str = "") -> ChangeProposal:
    """Propose a new version of a definition, the routing rules or the SLA policy (needs lifecycle.add_changeproposal)."""
    _require(by_user, PROPOSE_PERM, "Only marketing, sales managers and admins propose changes (needs permission lifecycle.add_changeproposal).")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why this should change (the approver reads it; it goes into the history).", field="reason", value=None)
    if "\x00" in reason:
        raise ValidationFailed("reason must not contain NUL characters", field="reason", value=reason[:80])
    stored = proposal_spec(kind=kind, spec=spec, stage=stage)
    current = _version_row(kind, stage)
    if current is not None and proposal_spec(kind=kind, spec=current.spec, stage=stage) == stored:
        raise ValidationFailed(f"This is version {current.version}, in force already: change something first.", field="spec", value=current.version)
    proposal = ChangeProposal.objects.create(
        kind=kind,
        stage=stage,
        spec=stored,
        reason=reason,
        base_version=current.version if current else 0,
        proposed_by=by_user,
        proposed_at=timezone.now(),
    )
    data: dict[str, Any] = {"kind": kind, "stage": stage, "base_version": proposal.base_version}
    if kind == ChangeProposal.Kind.DEFINITION and current is not None:
        data["changes"] = definition_changes(Definition.from_dict(current.spec), Definition.from_dict({**stored, "name": stage, "version": 1}))
    event_record(kind="proposal.created", subject=proposal, actor=by_user, rule=f"proposal:{kind}", reason=reason, data=data)
    return proposal


def _locked_open(proposal: ChangeProposal) -> ChangeProposal:
    locked = ChangeProposal.objects.select_for_update().get(pk=proposal.pk)
    if locked.status != ChangeProposal.Status.OPEN:
        raise NotAllowed(f"Proposal #{locked.pk} is {locked.get_status_display().lower()} already.", field="status", value=locked.status)
    return locked


@transaction.atomic
def proposal_approve(*, proposal: ChangeProposal, by_user: Any, expect_promoted: int | None = None) -> ChangeProposal:
    """Publish a proposal as the next version (needs lifecycle.approve_changeproposal).

    Refused when another version was published since it was proposed (its author proposes again on top of
    the version in force), and, for an MQL definition, when `expect_promoted` is given and publishing would
    promote a different number of people than that.
    """
    _require(by_user, APPROVE_PERM, "Only admins, or those they allow, approve proposals (needs permission lifecycle.approve_changeproposal).")
    locked = _locked_open(proposal)
    current = version_in_force(kind=locked.kind, stage=locked.stage)
    if current != locked.base_version:
        raise NotAllowed(
            f"Proposal #{locked.pk} was made against version {locked.base_version}, but version {current} has been "
            f"published since: reject it, or load it into the editor and propose it again on top of version {current}.",
            field="base_version",
            value=locked.base_version,
        )
    proposer = locked.proposed_by
    who = (proposer.get_full_name() or proposer.username) if proposer else "someone"
    reason = f"{locked.reason} (proposed by {who}, proposal #{locked.pk})"
    promoted: list[int] = []
    row: DefinitionVersion | RoutingConfig | SlaPolicyVersion
    if locked.kind == ChangeProposal.Kind.DEFINITION:
        row, promoted = _definition_publish(stage=locked.stage, spec=locked.spec, reason=reason, by_user=by_user, expect_promoted=expect_promoted)
    elif locked.kind == ChangeProposal.Kind.ROUTING:
        row = routing_publish(spec=locked.spec, reason=reason, by_user=by_user)
    else:
        row = sla_policy_publish(spec=locked.spec, reason=reason, by_user=by_user)
    locked.status = ChangeProposal.Status.PUBLISHED
    locked.decided_by = by_user
    locked.decided_at = row.created_at
    locked.published_version = row.version
    locked.promoted = len(promoted) if locked.kind == ChangeProposal.Kind.DEFINITION and locked.stage == Stage.MQL.value else None
    locked.save(update_fields=["status", "decided_by", "decided_at", "published_version", "promoted"])
    event_record(
        kind="proposal.approved",
        subject=locked,
        actor=by_user,
        rule=f"proposal:{locked.kind}",
        rule_version=row.version,
        reason=locked.reason,
        data={
            "kind": locked.kind,
            "stage": locked.stage,
            "base_version": locked.base_version,
            "published_version": row.version,
            "promoted": locked.promoted,
        },
    )
    return locked


@transaction.atomic
def proposal_reject(*, proposal: ChangeProposal, by_user: Any, reason: str) -> ChangeProposal:
    """Reject a proposal, saying why (needs lifecycle.approve_changeproposal); nothing is published."""
    _require(by_user, APPROVE_PERM, "Only admins, or those they allow, reject proposals (needs permission lifecycle.approve_changeproposal).")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the proposal is rejected (its author reads it).", field="reason", value=None)
    if "\x00" in reason:
        raise ValidationFailed("reason must not contain NUL characters", field="reason", value=reason[:80])
    locked = _locked_open(proposal)
    locked.status = ChangeProposal.Status.REJECTED
    locked.decided_by = by_user
    locked.decided_at = timezone.now()
    locked.decision_reason = reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    event_record(
        kind="proposal.rejected",
        subject=locked,
        actor=by_user,
        rule=f"proposal:{locked.kind}",
        reason=reason,
        data={"kind": locked.kind, "stage": locked.stage, "base_version": locked.base_version},
    )
    return locked


def proposal_approver_set(*, allow: bool, by_user: Any, role: str = "", username: str = "") -> None:
    """Let a role or one user approve and publish proposals, or stop them (admins: needs users.change_user)."""
    if not getattr(by_user, "pk", None) or not by_user.has_perm("users.change_user"):
        raise NotAllowed("Only admins choose who approves proposals (needs permission users.change_user).", field="user", value=getattr(by_user, "username", None))
    user = None
    if username.strip():
        user = get_user_model().objects.filter(username=username.strip()).first()
        if user is None:
            raise NotFound(f"no user named {username.strip()!r}", field="username", value=username.strip())
    permission_grant(perm=APPROVE_PERM, granted=allow, role=role, user=user, by_user=by_user)


# ---- personal data (tandem.privacy): notifications naming one person ----


def notifications_erase_person(*, person_id: int, needles: Collection[str], wide_needles: Collection[str]) -> int:
    """Take a person's names out of the notifications about them, and their e-mail, full name and phone out of
    any other (an overdue task's title may name them)."""
    about = rows_redact(rows=Notification.objects.filter(url=f"/people/{person_id}/"), needles=needles, text=["text"])
    others = rows_mentioning(
        rows=Notification.objects.exclude(url=f"/people/{person_id}/"), needles=wide_needles, text=["text"]
    )
    return about + rows_redact(rows=others, needles=wide_needles, text=["text"])


def lifecycle_restore_bulk(
    *, model: type[_Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: bool = False
) -> int:
    """Insert a backup's rows of one of this app's tables as they are, ids included (the bundle restore)."""
    from tandem.core.bulk import rows_restore

    return rows_restore(owner="lifecycle", model=model, columns=columns, rows=rows, replace=replace)
