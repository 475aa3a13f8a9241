"""Reads for the hand-off: the current definitions and their history, in plain words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Min

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID
from tandem.core.versioning import spec_current
from tandem.crm.models import Activity, Person, StageChange
from tandem.crm.stages import Stage
from tandem.lifecycle.business_hours import (
    WEEKDAY_LABELS,
    WEEKDAYS,
    BusinessCalendar,
    add_business_minutes,
    calendar_from_stored,
    holiday_entries,
    shifts_format,
)
from tandem.lifecycle.criteria import (
    DEFINITION_NAMES,
    NAT,
    Definition,
    DryRunSummary,
    Touchpoints,
    definition_changes,
    definition_describe,
    definition_first_met,
    dry_run_summary,
)
from tandem.lifecycle.models import DefinitionVersion, Notification, RoutingConfig, SlaPolicyVersion
from tandem.lifecycle.services import (
    REJECT_REASONS,
    calendar_for_team,
    sla_policy_current,
    team_calendars,
)
from tandem.lifecycle.sla_rules import (
    attempts_batch,
    first_touch_batch,
    marketing_scorecard,
    month_keys,
    rep_scorecard,
)
from tandem.users.models import Team as UserTeam


@dataclass(frozen=True)
class VersionView:
    """One definition version as the definitions page shows it."""

    stage: str
    version: int
    definition: Definition
    sentences: list[str]
    changes: list[str]
    reason: str
    created_by: str
    created_at: Any
    spec: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "version": self.version,
            "sentences": self.sentences,
            "changes": self.changes,
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "spec": self.spec,
        }


def definition_current(*, stage: str) -> Definition | None:
    """The current (latest) version of the MQL or SQL definition, or None when none is published."""
    row = spec_current(model=DefinitionVersion, scope={"stage": stage})
    return Definition.from_dict(row.spec) if row else None


def definitions_history(*, stage: str | None = None) -> dict[str, list[VersionView]]:
    """Every version per stage, newest first, each with its sentences and what changed from the one before."""
    stages = [stage] if stage else list(DEFINITION_NAMES)
    rows = DefinitionVersion.objects.filter(stage__in=stages).select_related("created_by").order_by("stage", "version")
    out: dict[str, list[VersionView]] = {s: [] for s in stages}
    previous: dict[str, Definition] = {}
    for row in rows:
        definition = Definition.from_dict(row.spec)
        before = previous.get(row.stage)
        user = row.created_by
        out[row.stage].append(
            VersionView(
                stage=row.stage,
                version=row.version,
                definition=definition,
                sentences=definition_describe(definition),
                changes=definition_changes(before, definition) if before else [],
                reason=row.reason,
                created_by=(user.get_full_name() or user.username) if user else "Tandem",
                created_at=row.created_at,
                spec=row.spec,
            )
        )
        previous[row.stage] = definition
    for versions in out.values():
        versions.reverse()
    return out


# --- dry run: the proposed definition over history -----------------------------------------------------------

# Standard facts and where they live; any other field is a custom field (account ones are "account.<key>").
FACT_PATHS: dict[str, str] = {
    "job_title": "job_title",
    "consent_email": "consent_email",
    "consent_calls": "consent_calls",
    "industry": "account__industry",
    "size_band": "account__size_band",
    "country": "account__country",
    "account_owner_id": "account__owner_id",
    "fit_grade": "score__fit_grade",
    "engagement_score": "score__engagement",
    "predictive_probability": "score__probability",
}
# Reaching any of these counts as reaching SQL (imports may skip stages).
SQL_OR_LATER: tuple[str, ...] = (Stage.SQL.value, Stage.OPPORTUNITY.value, Stage.CUSTOMER.value)


def _to_datetime64(values: list[Any]) -> np.ndarray:
    return np.array([np.datetime64(v.replace(tzinfo=None), "s") if v is not None else NAT for v in values], dtype="datetime64[s]")


def _fact_columns(definition: Definition) -> tuple[list[int], np.ndarray, dict[str, list[Any]]]:
    fields = sorted({c.field for c in definition.criteria if not isinstance(c, Touchpoints)})
    paths = [FACT_PATHS[f] for f in fields if f in FACT_PATHS]
    custom = [f for f in fields if f not in FACT_PATHS]
    if custom:
        paths += ["custom_fields", "account__custom_fields"]
    rows = list(Person.objects.order_by("id").values_list("id", "created_at", *paths))
    ids = [r[0] for r in rows]
    created = _to_datetime64([r[1] for r in rows])
    columns: dict[str, list[Any]] = {}
    standard = [f for f in fields if f in FACT_PATHS]
    for i, name in enumerate(standard):
        columns[name] = [r[2 + i] for r in rows]
    if custom:
        base = 2 + len(standard)
        for name in custom:
            if name.startswith("account."):
                key = name.removeprefix("account.")
                columns[name] = [(r[base + 1] or {}).get(key) for r in rows]
            else:
                columns[name] = [(r[base] or {}).get(name) for r in rows]
    return ids, created, columns


def _first_reached(index: dict[int, int], n: int, stages: tuple[str, ...]) -> np.ndarray:
    out = np.full(n, NAT, dtype="datetime64[s]")
    rows = (
        StageChange.objects.filter(to_stage__in=stages)
        .values("person_id")
        .annotate(at=Min("changed_at"))
        .values_list("person_id", "at")
    )
    for pid, at in rows:
        slot = index.get(pid)
        if slot is not None:
            out[slot] = np.datetime64(at.replace(tzinfo=None), "s")
    return out


def definition_dry_run(*, spec: Mapping[str, Any], as_of: dt.datetime | None = None) -> DryRunSummary:
    """What a proposed definition would have produced over history: MQLs per month and their conversions.

    Profile facts and scores are today's (their history is not kept), so this estimates the behaviour part.
    """
    definition = Definition.from_dict({**spec, "version": 1})
    ids, created, columns = _fact_columns(definition)
    index = {pid: i for i, pid in enumerate(ids)}
    n = len(ids)
    person: list[int] = []
    at: list[Any] = []
    kinds: list[str] = []
    channels: list[str] = []
    campaigns: list[int] = []
    if any(isinstance(c, Touchpoints) for c in definition.criteria):
        for pid, when, kind, channel, campaign in Touchpoint.objects.values_list(
            "person_id", "occurred_at", "kind", "channel", "campaign_id"
        ).iterator(chunk_size=20_000):
            person.append(index[pid])
            at.append(when)
            kinds.append(kind)
            channels.append(channel)
            campaigns.append(-1 if campaign is None else campaign)
    first = definition_first_met(
        definition,
        columns,
        n_people=n,
        touch_person=np.asarray(person, dtype=np.int64),
        touch_at=_to_datetime64(at),
        touch_kind=np.asarray(kinds, dtype=object),
        touch_channel=np.asarray(channels, dtype=object),
        touch_campaign=np.asarray(campaigns, dtype=np.int64),
        created_at=created,
        as_of=None if as_of is None else np.datetime64(as_of.astimezone(dt.UTC).replace(tzinfo=None), "s"),
    )
    sql_at = _first_reached(index, n, SQL_OR_LATER)
    won_at = _first_reached(index, n, (Stage.CUSTOMER.value,))
    return dry_run_summary(first, sql_at, won_at)


# --- the rep's inbox -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    """One new MQL waiting for its owner's answer, with the first-touch deadline."""

    person: Person
    mql_at: dt.datetime
    deadline: dt.datetime
    overdue: bool
    rule_version: int | None
    matched: list[str]


def inbox_items(*, user: Any, now: dt.datetime | None = None) -> list[InboxItem]:
    """New MQLs owned by the user (a manager also sees the team's), oldest deadline first."""
    moment = now or dt.datetime.now(dt.UTC)
    people = Person.objects.filter(lifecycle_stage=Stage.MQL.value).select_related("account", "latest_campaign", "original_campaign", "owner")
    if getattr(user, "role", "") == "sales_manager" and getattr(user, "team_id", None):
        people = people.filter(owner__team_id=user.team_id)
    else:
        people = people.filter(owner=user)
    rows = list(people.order_by("id")[:500])
    latest: dict[int, tuple[dt.datetime, int | None, dict[str, Any]]] = {}
    for pid, at, version, details in (
        StageChange.objects.filter(person_id__in=[p.pk for p in rows], to_stage=Stage.MQL.value)
        .order_by("changed_at", "id")
        .values_list("person_id", "changed_at", "rule_version", "details")
    ):
        latest[pid] = (at, version, details or {})
    calendars = team_calendars()
    policy = sla_policy_current()
    items = []
    for p in rows:
        at, version, details = latest.get(p.pk, (p.updated_at, None, {}))
        calendar = calendar_for_team(calendars, getattr(p.owner, "team_id", None))
        deadline = add_business_minutes(at, policy.first_touch_minutes, calendar)
        matched = [m.get("text", "") for m in details.get("matched", []) if isinstance(m, dict)]
        items.append(InboxItem(p, at, deadline, deadline <= moment, version, matched))
    items.sort(key=lambda i: (i.deadline, i.person.pk))
    return items


@dataclass(frozen=True)
class RejectionRow:
    reason_code: str
    label: str
    count: int
    comments: list[str]


def campaign_rejections(*, campaign_id: int) -> list[RejectionRow]:
    """Sales' rejections of the campaign's MQLs, by reason, most frequent first (with the comments)."""
    counts: dict[str, int] = {}
    comments: dict[str, list[str]] = {}
    for details in StageChange.objects.filter(rule="inbox:reject", details__campaign_id=campaign_id).values_list("details", flat=True):
        code = str((details or {}).get("reason_code", "other"))
        counts[code] = counts.get(code, 0) + 1
        if (details or {}).get("comment"):
            comments.setdefault(code, []).append(str(details["comment"]))
    return [
        RejectionRow(code, REJECT_REASONS.get(code, code), n, comments.get(code, [])[-5:])
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


# --- the SLA scorecard -----------------------------------------------------------------------------------------

ACCEPTED_OR_LATER: tuple[str, ...] = (Stage.SAL.value, *SQL_OR_LATER)


class _MqlPerson(NamedTuple):
    owner: int
    team: int | None
    campaign: int | None
    channel: str


def _seconds_of(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v.timestamp() for v in values], dtype=np.float64)


def sla_scorecard(*, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None) -> dict[str, Any]:
    """Both sides of the SLA for MQLs handed over in [start, end): per rep (first touch, attempts, share
    within SLA) and per campaign and channel (MQLs vs target, acceptance and MQL→SQL rates with intervals).

    The rep is the lead's current owner; a touch is any logged activity on the person; accepted means the
    lead reached SAL or later after the hand-off, SQL means SQL or later.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start and end must carry a time zone.", field="start", value=start)
    if end <= start:
        raise ValidationFailed("The period must end after it starts.", field="end", value=end.isoformat())
    moment = now or dt.datetime.now(dt.UTC)
    policy = sla_policy_current()
    handoffs = list(
        StageChange.objects.filter(to_stage=Stage.MQL.value, changed_at__gte=start, changed_at__lt=end)
        .order_by("person_id", "changed_at")
        .values_list("person_id", "changed_at")
    )
    # One hand-off per person in the period: the first.
    first_handoff: dict[int, dt.datetime] = {}
    for pid, at in handoffs:
        first_handoff.setdefault(pid, at)
    in_period = StageChange.objects.filter(to_stage=Stage.MQL.value, changed_at__gte=start, changed_at__lt=end).values("person_id")
    people: dict[int, _MqlPerson] = {}
    for pid, owner, team, latest, original, channel, latest_channel, original_channel in Person.objects.filter(
        pk__in=in_period
    ).values_list(
        "id", "owner_id", "owner__team_id", "latest_campaign_id", "original_campaign_id", "original_channel",
        "latest_campaign__channel", "original_campaign__channel",
    ):
        people[pid] = _MqlPerson(
            owner=owner or 0,
            team=team,
            campaign=latest or original,
            channel=latest_channel or original_channel or channel or "(none)",
        )
    ids = sorted(first_handoff)
    n = len(ids)
    index = {pid: i for i, pid in enumerate(ids)}
    handoff_s = _seconds_of([first_handoff[pid] for pid in ids])
    first_touch = np.full(n, np.nan)
    attempt_idx: list[int] = []
    attempt_at: list[float] = []
    for pid, at in Activity.objects.filter(person_id__in=in_period).values_list("person_id", "occurred_at"):
        i = index.get(pid)
        if i is None:
            continue
        t = at.timestamp()
        attempt_idx.append(i)
        attempt_at.append(t)
        if t >= handoff_s[i] and not t >= first_touch[i]:
            first_touch[i] = t
    accepted = np.zeros(n, dtype=bool)
    to_sql = np.zeros(n, dtype=bool)
    accepted_at = np.full(n, np.nan)
    disqualified_at = np.full(n, np.nan)
    for pid, stage, at in StageChange.objects.filter(
        person_id__in=in_period, to_stage__in=(*ACCEPTED_OR_LATER, Stage.DISQUALIFIED.value, Stage.RECYCLED.value)
    ).values_list("person_id", "to_stage", "changed_at"):
        i = index.get(pid)
        if i is None or at.timestamp() < handoff_s[i]:
            continue
        t = at.timestamp()
        if stage in ACCEPTED_OR_LATER:
            accepted[i] = True
            accepted_at[i] = np.fmin(accepted_at[i], t)
            to_sql[i] |= stage in SQL_OR_LATER
        else:
            disqualified_at[i] = np.fmin(disqualified_at[i], t)
    unknown = _MqlPerson(owner=0, team=None, campaign=None, channel="(none)")
    mine = [people.get(pid, unknown) for pid in ids]
    # One business timeline per owner's team calendar (teamless owners share the default calendar).
    by_team = team_calendars()
    teams = sorted({m.team if m.team in by_team else -1 for m in mine})
    calendars = [calendar_for_team(by_team, t if t != -1 else None) for t in teams]
    team_index = np.array([teams.index(m.team if m.team in by_team else -1) for m in mine], dtype=np.int64)
    batch = first_touch_batch(handoff_s, first_touch, team_index, calendars, policy, moment)
    counts, _ = attempts_batch(
        handoff_s, np.asarray(attempt_idx, dtype=np.int64), np.asarray(attempt_at, dtype=np.float64), policy, moment,
        disqualified_at=disqualified_at, accepted_at=accepted_at,
    )
    owners = np.array([m.owner for m in mine], dtype=np.int64)
    names = dict(get_user_model().objects.filter(pk__in=set(owners.tolist())).values_list("pk", "username"))
    reps = [
        {**row.to_dict(), "rep": names.get(row.rep_id, "unassigned")}
        for row in (rep_scorecard(owners, batch, counts) if n else [])
    ]
    campaign_names = dict(Campaign.objects.filter(pk__in={m.campaign for m in mine if m.campaign}).values_list("pk", "name"))
    campaign_keys = [campaign_names.get(m.campaign, "(no campaign)") if m.campaign else "(no campaign)" for m in mine]
    channel_keys = [m.channel for m in mine]
    month = month_keys(handoff_s) if n else np.array([], dtype=str)
    months_in = sorted({str(m) for m in month})
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat(), "now": moment.isoformat()},
        "policy": policy.to_dict(),
        "mqls": n,
        "reps": reps,
        "campaigns": [r.to_dict() for r in marketing_scorecard(campaign_keys, accepted, to_sql, policy, targets={})] if n else [],
        "channels": [r.to_dict() for r in marketing_scorecard(channel_keys, accepted, to_sql, policy, targets={})] if n else [],
        "months": [r.to_dict() for r in marketing_scorecard(month, accepted, to_sql, policy, include=months_in)] if n else [],
    }


# --- team calendars --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamCalendarView:
    """A team's calendar as the calendars page and the API show it."""

    team: UserTeam
    calendar: BusinessCalendar
    holidays: list[tuple[dt.date, str]]
    is_default: bool

    @property
    def sentences(self) -> list[str]:
        return self.calendar.describe()

    def upcoming(self, today: dt.date) -> list[tuple[dt.date, str]]:
        return [h for h in self.holidays if h[0] >= today][:5]

    def form_hours(self) -> list[tuple[str, str, str]]:
        """(weekday key, label, "09:00-17:00") per weekday, for the edit form."""
        return [(WEEKDAYS[d], WEEKDAY_LABELS[d], shifts_format(self.calendar.hours[d])) for d in range(7)]

    def form_holidays(self) -> str:
        return "\n".join(f"{d.isoformat()} {name}".strip() for d, name in self.holidays)

    def to_dict(self) -> dict[str, Any]:
        data = self.calendar.to_dict()
        return {
            "team_id": self.team.pk,
            "team": self.team.name,
            "time_zone": data["time_zone"],
            "hours": data["hours"],
            "holidays": [{"date": d.isoformat(), "name": name} for d, name in self.holidays],
            "default_hours": self.is_default,
            "sentences": self.sentences,
        }


def _calendar_view(team: UserTeam) -> TeamCalendarView:
    stored = team.calendar or {}
    return TeamCalendarView(
        team=team,
        calendar=calendar_from_stored(team.time_zone, stored),
        holidays=holiday_entries(stored.get("holidays")),
        is_default=not stored.get("hours"),
    )


def team_calendar_views() -> list[TeamCalendarView]:
    """Every team's calendar (hours, time zone, holidays), by team name; one query."""
    return [_calendar_view(team) for team in UserTeam.objects.order_by("name")]


def team_calendar_view(*, team_id: int) -> TeamCalendarView:
    """One team's calendar, or NotFound naming the id."""
    team = UserTeam.objects.filter(pk=team_id).first() if 0 < team_id <= MAX_ID else None
    if team is None:
        raise NotFound(f"no team with id {team_id}", field="team_id", value=team_id)
    return _calendar_view(team)


# ---- versions in force and their history; a user's notifications ----

HISTORY_VERSIONS = 20


def routing_config_current() -> RoutingConfig | None:
    """The routing rules in force (the highest published version), or None before the first publish."""
    return spec_current(model=RoutingConfig)


def routing_history(*, limit: int = HISTORY_VERSIONS) -> list[RoutingConfig]:
    """The latest published routing versions, newest first, with who published each."""
    return list(RoutingConfig.objects.select_related("created_by").order_by("-version")[:limit])


def sla_policy_history(*, limit: int = HISTORY_VERSIONS) -> list[SlaPolicyVersion]:
    """The latest published SLA policies, newest first, with who published each."""
    return list(SlaPolicyVersion.objects.select_related("created_by")[:limit])


def notifications_recent(*, user: Any, limit: int) -> list[Notification]:
    """A user's latest in-app notifications (SLA breaches, re-routes), newest first."""
    return list(Notification.objects.filter(user_id=getattr(user, "pk", None) or 0)[:limit])
