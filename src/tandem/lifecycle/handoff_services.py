"""Writes for the hand-off: publishing definition versions and promoting people who meet the MQL definition."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from tandem.campaigns.models import Touchpoint
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.core.models import Event
from tandem.crm.models import Activity, Person
from tandem.crm.services import person_assign_owner
from tandem.lifecycle.business_hours import BusinessCalendar
from tandem.lifecycle.criteria import (
    DEFINITION_NAMES,
    Definition,
    Touch,
    Touchpoints,
    definition_changes,
    definition_evaluate,
)
from tandem.lifecycle.models import (
    DefinitionVersion,
    Notification,
    RoutingConfig,
    RoutingState,
    SlaPolicyVersion,
    StageChange,
)
from tandem.lifecycle.routing_rules import Rep, Roster, RoundRobinState, RoutingRules, route
from tandem.lifecycle.routing_rules import Team as RosterTeam
from tandem.lifecycle.services import Transition, people_change_stage_bulk, person_change_stage
from tandem.lifecycle.sla_rules import SlaPolicy, first_touch_status
from tandem.lifecycle.states import Stage
from tandem.users.models import Team as UserTeam


def definition_publish(*, stage: str, spec: Mapping[str, Any], reason: str, by_user: Any) -> DefinitionVersion:
    """Validate a definition and store it as the next version of its stage, with who and why."""
    if stage not in DEFINITION_NAMES:
        raise ValidationFailed("A definition is for 'mql' or 'sql'.", field="stage", value=stage)
    if not isinstance(spec, Mapping):
        raise ValidationFailed("A definition must be a JSON object.", field="spec", value=spec)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the definition changes (it goes into the history).", field="reason", value=reason)
    named = spec.get("name")
    if named not in (None, "", stage):
        raise ValidationFailed(f"This definition is named {named!r} but is published as {stage!r}.", field="name", value=named)
    try:
        with transaction.atomic():
            latest = DefinitionVersion.objects.filter(stage=stage).aggregate(v=Max("version"))["v"] or 0
            # The version is the service's to number: whatever the JSON says is replaced.
            definition = Definition.from_dict({**spec, "name": stage, "version": latest + 1})
            previous = DefinitionVersion.objects.filter(stage=stage, version=latest).first()
            row = DefinitionVersion.objects.create(
                stage=stage,
                version=definition.version,
                spec=definition.to_dict(),
                reason=reason.strip(),
                created_by=by_user if getattr(by_user, "pk", None) else None,
                created_at=timezone.now(),
            )
            changes = definition_changes(Definition.from_dict(previous.spec), definition) if previous else []
            event_record(
                kind="definition.published",
                subject=row,
                actor=by_user,
                rule=f"definition:{stage}",
                rule_version=row.version,
                reason=row.reason,
                data={"stage": stage, "version": row.version, "changes": changes},
            )
    except IntegrityError as exc:
        raise NotAllowed(
            "Someone published a version of this definition at the same moment; reload and try again.",
            field="version",
            value=stage,
        ) from exc
    return row


# --- automatic promotion --------------------------------------------------------------------------------

# Stages from which meeting the MQL definition promotes; recycled people re-qualify on new activity only.
QUALIFYING_STAGES: tuple[str, ...] = ("", Stage.SUBSCRIBER.value, Stage.LEAD.value, Stage.RECYCLED.value)
CHUNK = 2000


def _score_facts(person_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    try:
        PersonScore = apps.get_model("scoring", "PersonScore")
    except LookupError:  # a deployment without the scoring app: score criteria see missing values
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = PersonScore.objects.filter(person_id__in=person_ids).values_list("person_id", "fit_grade", "engagement", "probability")
    for pid, grade, engagement, probability in rows:
        out[pid] = {"fit_grade": grade, "engagement_score": engagement, "predictive_probability": probability}
    return out


def people_facts(*, person_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The flat facts definitions and routing read, per person: profile, account, custom fields and scores."""
    facts: dict[int, dict[str, Any]] = {}
    rows = Person.objects.filter(pk__in=person_ids).values_list(
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


def _touches(person_ids: Sequence[int], since: dt.datetime, as_of: dt.datetime) -> dict[int, list[Touch]]:
    out: dict[int, list[Touch]] = {}
    rows = Touchpoint.objects.filter(person_id__in=person_ids, occurred_at__gte=since, occurred_at__lte=as_of).values_list(
        "person_id", "occurred_at", "kind", "channel", "campaign_id"
    )
    for pid, at, kind, channel, campaign in rows:
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


def people_qualify(*, person_ids: Sequence[int], as_of: dt.datetime | None = None) -> list[int]:
    """Promote to MQL every given lead who meets the current MQL definition; returns the promoted ids.

    Each promotion's StageChange records the definition version and the ids and sentences of the criteria
    that matched. Only leads (no stage, subscriber, lead, recycled) are considered; a recycled person's
    touchpoints count only from the moment they were recycled, so a rejection is not undone by old activity.
    """
    if not person_ids:
        return []
    at = as_of or timezone.now()
    row = DefinitionVersion.objects.filter(stage=Stage.MQL.value).order_by("-version").only("spec", "version").first()
    if row is None:
        return []
    definition = Definition.from_dict(row.spec)
    windows = [c.days for c in definition.criteria if isinstance(c, Touchpoints)]
    promoted: list[Transition] = []
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        facts = people_facts(person_ids=chunk)
        leads = [pid for pid, f in facts.items() if (f["lifecycle_stage"] or "") in QUALIFYING_STAGES]
        if not leads:
            continue
        touches = _touches(leads, at - dt.timedelta(days=max(windows)), at) if windows else {}
        recycled = [pid for pid in leads if facts[pid]["lifecycle_stage"] == Stage.RECYCLED.value]
        since = _recycled_at(recycled) if recycled else {}
        for pid in leads:
            mine = touches.get(pid, [])
            if pid in since:
                mine = [t for t in mine if t.occurred_at > since[pid]]
            result = definition_evaluate(definition, facts[pid], mine, at)
            if result.met:
                promoted.append(
                    Transition(
                        person_id=pid,
                        to_stage=Stage.MQL.value,
                        at=at,
                        rule=f"definition:{Stage.MQL.value}",
                        rule_version=row.version,
                        reason=f"Met MQL definition v{row.version}",
                        details={"matched": [m.to_dict() for m in result.matched], "definition": Stage.MQL.value},
                    )
                )
    if promoted:
        with transaction.atomic():
            people_change_stage_bulk(transitions=promoted)
            people_route(person_ids=[t.person_id for t in promoted])
    return [t.person_id for t in promoted]


SWEEP_EVENT = "lifecycle.qualify_sweep"


def people_qualify_recent(*, as_of: dt.datetime | None = None, limit: int = 50_000) -> list[int]:
    """Qualify the people with touchpoints recorded since the last sweep (a touchpoint-id watermark).

    Runs every minute from the task queue, so capture stays as fast as it was; it costs one primary-key range
    query when nothing arrived. The watermark is kept in the sweep's event, written only when there was work.
    """
    last = Event.objects.filter(kind=SWEEP_EVENT).order_by("-id").values_list("data", flat=True).first()
    after = int((last or {}).get("last_touchpoint_id", 0))
    if not last:  # first sweep: start from the newest touchpoint, history is the dry run's business
        after = Touchpoint.objects.order_by("-id").values_list("id", flat=True).first() or 0
        event_record(kind=SWEEP_EVENT, reason="watermark set", data={"last_touchpoint_id": after, "people": 0})
        return []
    rows = list(Touchpoint.objects.filter(id__gt=after).order_by("id").values_list("id", "person_id")[:limit])
    if not rows:
        return []
    with transaction.atomic():
        promoted = people_qualify(person_ids=sorted({pid for _, pid in rows}), as_of=as_of)
        event_record(
            kind=SWEEP_EVENT,
            reason="qualified people with new touchpoints",
            data={"last_touchpoint_id": rows[-1][0], "people": len({pid for _, pid in rows}), "promoted": len(promoted)},
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
    with transaction.atomic():
        latest = RoutingConfig.objects.aggregate(v=Max("version"))["v"] or 0
        rules = RoutingRules.from_dict({**spec, "version": latest + 1})
        row = RoutingConfig.objects.create(
            version=rules.version,
            spec=rules.to_dict(),
            reason=reason.strip(),
            created_by=by_user if getattr(by_user, "pk", None) else None,
            created_at=timezone.now(),
        )
        event_record(kind="routing.published", subject=row, actor=by_user, rule="routing", rule_version=row.version, reason=row.reason)
    return row


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
    config = RoutingConfig.objects.order_by("-version").first()
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
    return person_change_stage(person=person, to_stage=Stage.SAL.value, by_user=by_user, rule="inbox:accept", reason="Accepted by sales")


def mql_reject(*, person: Person, by_user: Any, reason_code: str, comment: str = "") -> StageChange:
    """Sales rejects an MQL with a reason: it goes back to marketing as recycled, tagged with its campaign."""
    if reason_code not in REJECT_REASONS:
        raise ValidationFailed(f"Unknown reason; use one of {', '.join(REJECT_REASONS)}.", field="reason_code", value=reason_code)
    comment = (comment or "").strip()
    if reason_code == "other" and not comment:
        raise ValidationFailed("Say what the other reason is.", field="comment", value=None)
    _check_handler(person, by_user)
    campaign_id = person.latest_campaign_id or person.original_campaign_id
    return person_change_stage(
        person=person,
        to_stage=Stage.RECYCLED.value,
        by_user=by_user,
        rule="inbox:reject",
        reason=REJECT_REASONS[reason_code] + (f": {comment}" if comment else ""),
        details={"reason_code": reason_code, "comment": comment, "campaign_id": campaign_id},
    )


# --- the SLA: policy versions and breach detection -----------------------------------------------------------

BREACH_EVENT = "sla.first_touch_breached"


def sla_policy_current() -> SlaPolicy:
    """The SLA policy in force (the defaults of SlaPolicy until an admin publishes one)."""
    row = SlaPolicyVersion.objects.order_by("-version").only("spec").first()
    return SlaPolicy.from_dict(row.spec) if row else SlaPolicy()


def sla_policy_publish(*, spec: Mapping[str, Any], reason: str, by_user: Any) -> SlaPolicyVersion:
    """Validate an SLA policy and store it as the next version, with who and why."""
    if not isinstance(spec, Mapping):
        raise ValidationFailed("The SLA policy must be a JSON object.", field="spec", value=spec)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the SLA changes (it goes into the history).", field="reason", value=reason)
    with transaction.atomic():
        latest = SlaPolicyVersion.objects.aggregate(v=Max("version"))["v"] or 0
        policy = SlaPolicy.from_dict({**spec, "version": latest + 1})
        row = SlaPolicyVersion.objects.create(
            version=policy.version,
            spec=policy.to_dict(),
            reason=reason.strip(),
            created_by=by_user if getattr(by_user, "pk", None) else None,
            created_at=timezone.now(),
        )
        event_record(kind="sla.published", subject=row, actor=by_user, rule="sla", rule_version=row.version, reason=row.reason)
    return row


def team_calendar(*, time_zone: str) -> BusinessCalendar:
    """A team's business calendar: its time zone with Monday–Friday 9:00–17:00 (calendars are not editable yet)."""
    return BusinessCalendar(time_zone=time_zone or "UTC")


def sla_breaches_detect(*, now: dt.datetime | None = None) -> list[int]:
    """Find MQLs whose first-touch deadline has passed untouched; record each breach once and notify the
    owner and the owner's team manager in the app. Returns the ids of the people newly breached.

    A touch is any sales activity (call, email, meeting…) logged on the person at or after the hand-off.
    """
    moment = now or timezone.now()
    policy = sla_policy_current()
    people = list(
        Person.objects.filter(lifecycle_stage=Stage.MQL.value, owner__isnull=False).values_list(
            "id", "owner_id", "owner__team_id", "owner__team__time_zone", "owner__team__manager_id", "first_name", "last_name", "email"
        )
    )
    if not people:
        return []
    ids = [p[0] for p in people]
    handoff: dict[int, dt.datetime] = {}
    for pid, at in StageChange.objects.filter(person_id__in=ids, to_stage=Stage.MQL.value).order_by("changed_at", "id").values_list("person_id", "changed_at"):
        handoff[pid] = at
    touches: dict[int, list[dt.datetime]] = {}
    for pid, at in Activity.objects.filter(person_id__in=ids).values_list("person_id", "occurred_at"):
        touches.setdefault(pid, []).append(at)
    already = {
        (sid, str(data.get("handoff_at")))
        for sid, data in Event.objects.filter(kind=BREACH_EVENT, subject_type="crm.person", subject_id__in=ids).values_list("subject_id", "data")
    }
    calendars: dict[str, BusinessCalendar] = {}
    breached: list[int] = []
    notes: list[Notification] = []
    with transaction.atomic():
        for pid, owner_id, _team_id, zone, manager_id, first, last, email in people:
            if pid not in handoff:
                continue
            at = handoff[pid]
            calendar = calendars.setdefault(zone or "UTC", team_calendar(time_zone=zone or "UTC"))
            status = first_touch_status(at, touches.get(pid, []), calendar, policy, moment)
            if status.state != "breached" or (pid, at.isoformat()) in already:
                continue
            name = f"{first} {last}".strip() or email or f"person #{pid}"
            event_record(
                kind=BREACH_EVENT,
                subject_type="crm.person",
                subject_id=pid,
                rule="sla",
                rule_version=policy.version,
                reason=status.explanation,
                data={"handoff_at": at.isoformat(), "deadline": status.deadline.isoformat(), "owner": owner_id},
                occurred_at=status.deadline,
            )
            text = f"SLA breached: {name} was not touched by {status.deadline:%Y-%m-%d %H:%M} UTC."
            for user_id in {owner_id, manager_id} - {None}:
                notes.append(Notification(user_id=user_id, kind="sla_breach", text=text, url=f"/people/{pid}/", created_at=moment))
            breached.append(pid)
        Notification.objects.bulk_create(notes)
    return breached
