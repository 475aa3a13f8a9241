"""Reads for the hand-off: the current definitions and their history, in plain words."""

from __future__ import annotations

import datetime as dt
import json
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import F, Max, Min, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.core.erasure import rows_plain
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.core.paging import PAGE_SIZE, KeysetPage, keyset_page
from tandem.core.reportcache import report_cached_get
from tandem.core.versioning import spec_current
from tandem.crm.channels import CHANNEL_LABELS
from tandem.crm.models import Activity, Person, StageChange
from tandem.crm.stages import Stage
from tandem.lifecycle.business_hours import (
    WEEKDAY_LABELS,
    WEEKDAYS,
    BusinessCalendar,
    calendar_from_stored,
    holiday_entries,
    shifts_format,
)
from tandem.lifecycle.criteria import (
    DEFINITION_NAMES,
    NAT,
    Definition,
    DryRunSummary,
    MonthRow,
    Touchpoints,
    definition_changes,
    definition_describe,
    definition_first_met,
    dry_run_summary,
)
from tandem.lifecycle.holidays import public_holidays
from tandem.lifecycle.models import (
    ChangeProposal,
    DefinitionVersion,
    Notification,
    RoutingConfig,
    SlaPolicyVersion,
)
from tandem.lifecycle.routing_rules import RoutingRules
from tandem.lifecycle.services import (
    APPROVE_PERM,
    REJECT_REASONS,
    calendar_for_team,
    qualifying_transitions,
    sla_policy_current,
    team_calendars,
)
from tandem.lifecycle.sla_rules import (
    DUE_LATER,
    DUE_SOON,
    INBOX_STATES,
    OVERDUE,
    TOUCHED_IN_TIME,
    TOUCHED_LATE,
    FirstTouchStatus,
    SlaPolicy,
    attempts_batch,
    first_touch_batch,
    first_touch_status,
    inbox_states,
    marketing_scorecard,
    month_keys,
    rep_scorecard,
)
from tandem.users.access import access_filter
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
    return _fact_columns_of({c.field for c in definition.criteria if not isinstance(c, Touchpoints)})


def _fact_columns_of(names: set[str]) -> tuple[list[int], np.ndarray, dict[str, list[Any]]]:
    fields = sorted(names)
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


@dataclass(frozen=True)
class CompareRow:
    """One month of the side-by-side dry run: what the current and the proposed definition would have produced."""

    month: str
    current: MonthRow | None
    proposed: MonthRow | None

    @property
    def difference(self) -> int:
        return (self.proposed.mqls if self.proposed else 0) - (self.current.mqls if self.current else 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "current": self.current.to_dict() if self.current else None,
            "proposed": self.proposed.to_dict() if self.proposed else None,
            "difference": self.difference,
        }


@dataclass(frozen=True)
class DryRunCompare:
    """The dry run of a proposed definition beside the one in force, and who publishing would promote now."""

    stage: str
    current_version: int | None
    current_sentences: list[str]
    proposed_sentences: list[str]
    changes: list[str]
    current: DryRunSummary | None
    proposed: DryRunSummary
    rows: list[CompareRow]
    # People publishing promotes at once (MQL only: SQL is a sales decision, never automatic).
    promote_now: int | None
    as_of: dt.datetime

    @property
    def total(self) -> CompareRow:
        return CompareRow("total", self.current.total if self.current else None, self.proposed.total)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "as_of": self.as_of.isoformat(),
            "current": {
                "version": self.current_version,
                "sentences": self.current_sentences,
                "summary": self.current.to_dict() if self.current else None,
            },
            "proposed": {"sentences": self.proposed_sentences, "summary": self.proposed.to_dict()},
            "changes": self.changes,
            "months": [r.to_dict() for r in self.rows],
            "promote_now": self.promote_now,
        }


def _replay(definitions: list[Definition], as_of: dt.datetime | None) -> list[DryRunSummary]:
    """Dry runs of several definitions over the same history, read once."""
    criteria = [c for d in definitions for c in d.criteria]
    ids, created, columns = _fact_columns_of({c.field for c in criteria if not isinstance(c, Touchpoints)})
    index = {pid: i for i, pid in enumerate(ids)}
    person: list[int] = []
    at: list[Any] = []
    kinds: list[str] = []
    channels: list[str] = []
    campaigns: list[int] = []
    if any(isinstance(c, Touchpoints) for c in criteria):
        for pid, when, kind, channel, campaign in Touchpoint.objects.values_list(
            "person_id", "occurred_at", "kind", "channel", "campaign_id"
        ).iterator(chunk_size=20_000):
            person.append(index[pid])
            at.append(when)
            kinds.append(kind)
            channels.append(channel)
            campaigns.append(-1 if campaign is None else campaign)
    touch = {
        "touch_person": np.asarray(person, dtype=np.int64),
        "touch_at": _to_datetime64(at),
        "touch_kind": np.asarray(kinds, dtype=object),
        "touch_channel": np.asarray(channels, dtype=object),
        "touch_campaign": np.asarray(campaigns, dtype=np.int64),
    }
    limit = None if as_of is None else np.datetime64(as_of.astimezone(dt.UTC).replace(tzinfo=None), "s")
    sql_at = _first_reached(index, len(ids), SQL_OR_LATER)
    won_at = _first_reached(index, len(ids), (Stage.CUSTOMER.value,))
    return [
        dry_run_summary(
            definition_first_met(d, columns, n_people=len(ids), created_at=created, as_of=limit, **touch), sql_at, won_at
        )
        for d in definitions
    ]


def mql_promotions_preview(*, spec: Mapping[str, Any], as_of: dt.datetime | None = None) -> list[int]:
    """The leads publishing this MQL definition would promote at `as_of` (now): exactly those the publish promotes."""
    definition = Definition.from_dict({**spec, "name": Stage.MQL.value, "version": 1})
    at = as_of or dt.datetime.now(dt.UTC)
    return [t.person_id for t in qualifying_transitions(definition=definition, version=0, person_ids=None, at=at)]


def definition_dry_run_compare(*, stage: str, spec: Mapping[str, Any], as_of: dt.datetime | None = None) -> DryRunCompare:
    """The proposed definition's dry run beside the current one's, month by month, with the promotions now."""
    if stage not in DEFINITION_NAMES:
        raise ValidationFailed("A definition is for 'mql' or 'sql'.", field="stage", value=stage)
    proposed = Definition.from_dict({**spec, "name": stage, "version": 1})
    row = spec_current(model=DefinitionVersion, scope={"stage": stage})
    current = Definition.from_dict(row.spec) if row else None
    summaries = _replay([proposed] + ([current] if current else []), as_of)
    before = summaries[1] if current else None
    by_month: dict[str, list[MonthRow | None]] = {}
    for slot, summary in enumerate((before, summaries[0])):
        for m in summary.months if summary else ():
            by_month.setdefault(m.month, [None, None])[slot] = m
    moment = as_of or dt.datetime.now(dt.UTC)
    return DryRunCompare(
        stage=stage,
        current_version=row.version if row else None,
        current_sentences=definition_describe(current) if current else [],
        proposed_sentences=definition_describe(proposed),
        changes=definition_changes(current, proposed) if current else [],
        current=before,
        proposed=summaries[0],
        rows=[CompareRow(month, pair[0], pair[1]) for month, pair in sorted(by_month.items())],
        promote_now=len(mql_promotions_preview(spec=spec, as_of=moment)) if stage == Stage.MQL.value else None,
        as_of=moment,
    )


# --- the rep's inbox -----------------------------------------------------------------------------------------
#
# The inbox lists the open MQLs (stage MQL) a user answers for: a rep their own, a sales manager the members of
# the teams they lead, an admin everyone's. Each MQL's first-touch deadline comes from the SLA policy in force
# now and the owner's team calendar (business hours, time zone, holidays); no database can compute that, so
# three plain reads fetch a few columns of every open MQL the filters let through, its hand-offs and touches
# (open MQLs are a working queue: hundreds, not millions), numpy computes deadlines and states for all of them
# at once, and the page is cut from the sorted rows with a keyset cursor (the boundary row's sort key and id),
# which neither repeats nor skips a row when rows come and go between pages. Two more queries read the full
# rows of that one page only, so the page costs the same number of queries for 5 rows as for 5,000.

INBOX_PAGE_SIZE = 50
INBOX_MAX_PAGE_SIZE = 200
# Hand-offs older than this leave the default view. A lead nobody touched for a month is a backlog to clean up
# (its breach was recorded and notified long ago), not a lead whose clock runs today: the page counts it above
# the list and shows the backlog one click away (age=older) instead of burying today's leads under it.
INBOX_RECENT_DAYS = 30
INBOX_AGES: dict[str, str] = {
    "1d": "last 24 hours",
    "7d": "last 7 days",
    "30d": "last 30 days",
    "90d": "last 90 days",
    "older": f"more than {INBOX_RECENT_DAYS} days ago",
    "all": "any time",
}
_AGE_DAYS = {"1d": 1, "7d": 7, "30d": INBOX_RECENT_DAYS, "90d": 90}
INBOX_DEFAULT_AGE = "30d"
INBOX_STATE_LABELS: dict[str, str] = {
    OVERDUE: "Overdue",
    DUE_SOON: "Due soon",
    DUE_LATER: "Due later",
    TOUCHED_LATE: "Touched late",
    TOUCHED_IN_TIME: "Touched in time",
}
# A filter value names one state or a group of them.
INBOX_STATE_FILTERS: dict[str, tuple[str, ...]] = {
    "untouched": (OVERDUE, DUE_SOON, DUE_LATER),
    "touched": (TOUCHED_LATE, TOUCHED_IN_TIME),
    **{state: (state,) for state in INBOX_STATES},
}
INBOX_SORTS: dict[str, str] = {
    "urgency": "Most urgent first",
    "deadline": "SLA deadline, earliest first",
    "-deadline": "SLA deadline, latest first",
    "-handoff": "Newest hand-off first",
    "handoff": "Oldest hand-off first",
    "-score": "Highest score first",
    "score": "Lowest score first",
    "name": "Name A–Z",
    "-name": "Name Z–A",
}
INBOX_DEFAULT_SORT = "urgency"
# The types of each sort's key, to check a cursor's key before comparing rows with it.
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "urgency": (int, int),
    "deadline": (int,),
    "handoff": (int,),
    "score": (int, float, float),
    "name": (str,),
}
INBOX_FILTERS: tuple[str, ...] = ("owner", "state", "channel", "campaign", "age", "sort")
# Roles whose users may own leads: an admin's owner filter offers them.
_OWNER_ROLES: tuple[str, ...] = ("sales_rep", "sales_manager", "admin")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _micros(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def _from_micros(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


@dataclass(frozen=True)
class InboxItem:
    """One open MQL on an inbox page: its hand-off, first-touch deadline and state under the policy in force."""

    person: Person
    mql_at: dt.datetime
    deadline: dt.datetime
    state: str
    touched_at: dt.datetime | None
    minutes_left: float | None  # business minutes, while the first touch is still due
    rule_version: int | None
    matched: list[str]
    probability: float | None = None
    engagement: float | None = None
    fit_grade: str = ""
    tier: str = ""

    @property
    def overdue(self) -> bool:
        return self.state == OVERDUE

    @property
    def untouched(self) -> bool:
        return self.state in INBOX_STATE_FILTERS["untouched"]

    @property
    def state_label(self) -> str:
        return INBOX_STATE_LABELS[self.state]

    @property
    def campaign(self) -> Campaign | None:
        # The campaign behind the hand-off: the latest one that touched the lead, else the one it came from.
        return self.person.latest_campaign or self.person.original_campaign

    def to_dict(self) -> dict[str, Any]:
        p, campaign, owner = self.person, self.campaign, self.person.owner
        return {
            "person_id": p.pk,
            "name": str(p),
            "email": p.email,
            "company": p.account.name if p.account else "",
            "owner": None if owner is None else {"id": owner.pk, "name": str(owner)},
            "mql_at": self.mql_at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "state": self.state,
            "overdue": self.overdue,
            "touched_at": None if self.touched_at is None else self.touched_at.isoformat(),
            "business_minutes_left": self.minutes_left,
            "channel": p.original_channel,
            "campaign": None if campaign is None else {"id": campaign.pk, "name": campaign.name},
            "score": {"probability": self.probability, "engagement": self.engagement, "fit_grade": self.fit_grade, "tier": self.tier},
            "definition_version": self.rule_version,
            "matched": self.matched,
        }


@dataclass(frozen=True)
class InboxPage:
    """One keyset page of a user's inbox, with the counts the filters need."""

    items: list[InboxItem]
    filters: dict[str, str]  # the filters applied, defaults filled in
    next_cursor: str | None
    prev_cursor: str | None
    total: int  # rows matching every filter, on all pages
    states: dict[str, int]  # rows per state under the other filters
    older: int  # open MQLs the age filter leaves out (older hand-offs), and how many of them are untouched
    older_untouched: int
    since: dt.datetime | None  # the age window's start (None: no lower bound)
    scope: str  # "own", "team" or "all"
    owners: list[Any]  # whose MQLs the user may list (the owner filter's choices)
    campaigns: list[tuple[int, str]]  # campaigns of open MQLs in the user's scope (the campaign filter's choices)
    policy: SlaPolicy
    now: dt.datetime

    @property
    def any_matched(self) -> bool:
        """Whether a row of this page says why it qualified (hand-offs the definition made; imports do not)."""
        return any(item.matched for item in self.items)

    @property
    def state_chips(self) -> list[tuple[str, str, int]]:
        """(filter value, label, count): every open MQL under the other filters, then each state."""
        everything = ("", "All", sum(self.states.values()))
        return [everything, *((s, INBOX_STATE_LABELS[s], self.states.get(s, 0)) for s in INBOX_STATES)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],
            "filters": self.filters,
            "next_cursor": self.next_cursor,
            "prev_cursor": self.prev_cursor,
            "total": self.total,
            "states": {s: self.states.get(s, 0) for s in INBOX_STATES},
            "older": {"count": self.older, "untouched": self.older_untouched, "before": None if self.since is None else self.since.isoformat()},
            "policy": self.policy.to_dict(),
            "now": self.now.isoformat(),
        }


class _Open(NamedTuple):
    id: int
    owner_id: int | None
    team_id: int | None
    handoff_at: dt.datetime
    handoff_id: int | None
    touched_at: dt.datetime | None
    probability: float | None
    engagement: float | None
    fit_grade: str | None
    tier: str | None
    name_key: str
    email: str | None

    @property
    def name(self) -> str:
        # People without a name sort by their address, as the page shows them.
        return self.name_key or (self.email or "")


def _inbox_scope(user: Any) -> tuple[str, list[Any]]:
    """Whose MQLs the user lists: ("all", users who own leads) for admins, ("team", the members of the teams a
    sales manager leads or belongs to: with the unassigned MQLs, their reach in tandem.users.access), else
    ("own", [the user])."""
    User = get_user_model()
    order = ("first_name", "last_name", "username")
    if getattr(user, "role", "") == "admin" or getattr(user, "is_superuser", False):
        return "all", list(User.objects.filter(role__in=_OWNER_ROLES).order_by(*order))
    if getattr(user, "role", "") == "sales_manager":
        teams = Q(team__manager=user) | Q(pk=user.pk)
        if user.team_id is not None:
            teams |= Q(team_id=user.team_id)
        return "team", list(User.objects.filter(teams).order_by(*order))
    return "own", [user]


def _owner_q(owner: str, user: Any, scope: str, owners: list[Any]) -> Q:
    if owner == "":
        return Q()
    if owner == "me":
        return Q(owner_id=user.pk)
    if owner == "none":
        if scope == "own":
            raise ValidationFailed(
                "Only admins and sales managers list unassigned MQLs; owner is a user id or 'me'.", field="owner", value=owner
            )
        return Q(owner__isnull=True)
    if not owner.isdigit() or not 0 < int(owner) <= MAX_ID:
        raise ValidationFailed(f"owner must be a user id, 'me' or 'none', got {owner!r}", field="owner", value=owner)
    user_id = int(owner)
    if user_id not in {u.pk for u in owners}:
        if scope != "all":
            whose = "your own" if scope == "own" else "your team's"
            raise ValidationFailed(f"user {user_id} is not an owner you can see: you see {whose} MQLs", field="owner", value=owner)
        if not get_user_model().objects.filter(pk=user_id).exists():
            raise ValidationFailed(f"no user with id {user_id}", field="owner", value=owner)
    return Q(owner_id=user_id)


def _choice(value: str, choices: Mapping[str, Any], field: str) -> str:
    if value not in choices:
        raise ValidationFailed(f"{field} must be one of {', '.join(choices)}; got {value!r}", field=field, value=value)
    return value


def _sort_key(base: str, row: _Open, state: int, deadline_us: int) -> tuple[Any, ...]:
    if base == "urgency":  # untouched first (overdue, then due soonest), then the touched ones, by deadline
        return (int(state >= 3), deadline_us)
    if base == "deadline":
        return (deadline_us,)
    if base == "handoff":
        return (_micros(row.handoff_at),)
    if base == "score":  # the predicted probability, then engagement; unscored leads count lowest
        return (int(row.probability is not None), float(row.probability or 0.0), float(row.engagement or 0.0))
    return (row.name,)


def _cursor_key(text: str, sort: str) -> tuple[tuple[Any, ...], int, bool]:
    boundary = cursor_decode(text, order=sort)
    types = _KEY_TYPES[sort.lstrip("-")]
    try:
        raw = json.loads(boundary.key)
    except ValueError:
        raw = None
    ok = isinstance(raw, list) and len(raw) == len(types)
    if ok:
        for value, kind in zip(raw, types, strict=True):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and (isinstance(value, str) if kind is str else number and (kind is float or isinstance(value, int)))
    if not ok:
        raise ValidationFailed(f"cursor {text!r} is not a valid page cursor", field="cursor", value=text)
    return (tuple(float(v) if kind is float else v for v, kind in zip(raw, types, strict=True)), boundary.id, boundary.backward)


def _keyset_slice(
    keyed: list[tuple[tuple[Any, ...], int]], *, sort: str, cursor: str, limit: int
) -> tuple[range, str | None, str | None]:
    """The positions of one page in rows sorted by (key, id) (descending for a '-' sort), and its cursors."""
    n = len(keyed)
    descending = sort.startswith("-")
    start, stop = 0, min(limit, n)
    if cursor:
        key, row_id, backward = _cursor_key(cursor, sort)
        boundary = (key, row_id)
        # Rows are ascending (key, id) in `ascending`; a descending list is the same read from the end.
        ascending = keyed[::-1] if descending else keyed
        below, above = bisect_left(ascending, boundary), bisect_right(ascending, boundary)
        # Where the boundary sits in list order: rows before it and rows after it.
        before, after = (n - above, n - below) if descending else (below, above)
        if backward:
            start, stop = max(0, before - limit), before
        else:
            start, stop = after, min(after + limit, n)
    if start >= stop:
        return range(0), None, None

    def encode(i: int, backward: bool) -> str:
        return cursor_encode(Cursor(sort, json.dumps(list(keyed[i][0])), keyed[i][1], backward=backward))

    return (
        range(start, stop),
        encode(stop - 1, False) if stop < n else None,
        encode(start, True) if start > 0 else None,
    )


def inbox_page(
    *,
    user: Any,
    owner: str = "",
    state: str = "",
    channel: str = "",
    campaign: str = "",
    age: str = "",
    sort: str = "",
    cursor: str = "",
    limit: int = INBOX_PAGE_SIZE,
    now: dt.datetime | None = None,
    with_choices: bool = True,
) -> InboxPage:
    """One page of the open MQLs the user answers for, filtered and sorted, with each first-touch deadline and
    state under the SLA policy in force and the owner's team calendar; bad filter values name their field."""
    age, sort = age or INBOX_DEFAULT_AGE, sort or INBOX_DEFAULT_SORT
    _choice(age, INBOX_AGES, "age")
    _choice(sort, INBOX_SORTS, "sort")
    if state:
        _choice(state, INBOX_STATE_FILTERS, "state")
    if channel:
        _choice(channel, CHANNEL_LABELS, "channel")
    if campaign and (not campaign.isdigit() or not 0 < int(campaign) <= MAX_ID):
        raise ValidationFailed(f"campaign must be a campaign id, got {campaign!r}", field="campaign", value=campaign)
    if not 1 <= limit <= INBOX_MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit must be between 1 and {INBOX_MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit)
    if cursor:
        _cursor_key(cursor, sort)  # a bad cursor is refused even when the page turns out empty
    moment = now or dt.datetime.now(dt.UTC)
    scope, owners = _inbox_scope(user)
    in_scope = Person.objects.filter(lifecycle_stage=Stage.MQL.value, erased_at__isnull=True)
    if scope == "own":
        in_scope = in_scope.filter(owner_id=user.pk)
    elif scope == "team":
        # A manager's queue is their reach: the teams' MQLs and the unassigned ones they route.
        in_scope = access_filter(in_scope, user=user)
    in_scope = in_scope.alias(source_campaign=Coalesce("latest_campaign_id", "original_campaign_id"))
    people = in_scope.filter(_owner_q(owner, user, scope, owners))
    if channel:
        people = people.filter(original_channel=channel)
    if campaign:
        people = people.filter(source_campaign=int(campaign))
    rows = _inbox_rows(people, moment)
    since: dt.datetime | None = None
    older = older_untouched = 0
    if age in _AGE_DAYS:
        since = moment - dt.timedelta(days=_AGE_DAYS[age])
        hidden = [r for r in rows if r.handoff_at < since]
        older, older_untouched = len(hidden), sum(r.touched_at is None for r in hidden)
        rows = [r for r in rows if r.handoff_at >= since]
    elif age == "older":
        rows = [r for r in rows if r.handoff_at < moment - dt.timedelta(days=INBOX_RECENT_DAYS)]
    policy = sla_policy_current()
    codes, deadlines, minutes_left = _inbox_sla(rows, policy, moment)
    counts = np.bincount(codes, minlength=len(INBOX_STATES)) if len(rows) else np.zeros(len(INBOX_STATES), dtype=np.int64)
    states = {s: int(counts[i]) for i, s in enumerate(INBOX_STATES)}
    wanted = {INBOX_STATES.index(s) for s in INBOX_STATE_FILTERS[state]} if state else set(range(len(INBOX_STATES)))
    base = sort.lstrip("-")
    keyed = sorted(
        (_sort_key(base, row, int(codes[i]), int(deadlines[i])), row.id, i)
        for i, row in enumerate(rows)
        if int(codes[i]) in wanted
    )
    if sort.startswith("-"):
        keyed.reverse()
    span, next_cursor, prev_cursor = _keyset_slice([(k, rid) for k, rid, _ in keyed], sort=sort, cursor=cursor, limit=limit)
    chosen = [rows[keyed[j][2]] for j in span]
    # The page's own rows, in full: two queries whatever the number of open MQLs.
    full = (
        Person.objects.select_related("account", "owner", "latest_campaign", "original_campaign").in_bulk([r.id for r in chosen])
        if chosen
        else {}
    )
    handoffs = (
        {hid: (version, details or {}) for hid, version, details in StageChange.objects.filter(pk__in=[r.handoff_id for r in chosen if r.handoff_id]).order_by().values_list("id", "rule_version", "details")}
        if chosen
        else {}
    )
    items = []
    for j in span:
        i = keyed[j][2]
        row = rows[i]
        if row.id not in full:  # merged away between the two reads: gone from the list
            continue
        version, details = handoffs.get(row.handoff_id or 0, (None, {}))
        left = float(minutes_left[i])
        items.append(
            InboxItem(
                person=full[row.id],
                mql_at=row.handoff_at,
                deadline=_from_micros(int(deadlines[i])),
                state=INBOX_STATES[int(codes[i])],
                touched_at=row.touched_at,
                minutes_left=None if np.isnan(left) else left,
                rule_version=version,
                matched=[m.get("text", "") for m in details.get("matched", []) if isinstance(m, dict)],
                probability=row.probability,
                engagement=row.engagement,
                fit_grade=row.fit_grade or "",
                tier=row.tier or "",
            )
        )
    campaigns: list[tuple[int, str]] = []
    if with_choices:
        campaigns = list(
            Campaign.objects.filter(pk__in=in_scope.annotate(source=F("source_campaign")).values("source"))
            .order_by("name", "id")
            .values_list("id", "name")
        )
    return InboxPage(
        items=items,
        filters={"owner": owner, "state": state, "channel": channel, "campaign": campaign, "age": age, "sort": sort},
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
        total=len(keyed),
        states=states,
        older=older,
        older_untouched=older_untouched,
        since=since,
        scope=scope,
        owners=owners,
        campaigns=campaigns,
        policy=policy,
        now=moment,
    )


def _inbox_rows(people: QuerySet[Person], moment: dt.datetime) -> list[_Open]:
    """The open MQLs of `people` with their latest hand-off and first touch since it, in three plain reads.

    The hand-off is the latest move to MQL (a lead can come back from nurture); the first touch is the first
    activity of a kind that counts as a touch (a note does not) logged at or after it and not after now. Plain
    reads matched in Python, not a correlated subquery per row: PostgreSQL prices those so high that it
    compiles the query (JIT) for seconds, and SQLite walks the wrong index.
    """
    found = list(
        people.order_by().values_list(
            "id", "owner_id", "owner__team_id",
            "score__probability", "score__engagement", "score__fit_grade", "score__tier", "name_key", "email_normalized",
        )
    )
    if not found:
        return []
    ids = people.order_by().values("id")
    # The stage is compared through a no-op expression so that SQLite (no statistics) reads each person's few
    # moves by the (person, changed_at) index, not every hand-off ever by the (to_stage, changed_at) one.
    latest: dict[int, tuple[dt.datetime, int]] = {}
    for pid, at, hid in (
        StageChange.objects.filter(person_id__in=ids)
        .alias(stage_unindexed=Concat(F("to_stage"), Value("")))
        .filter(stage_unindexed=Stage.MQL.value)
        .order_by()
        .values_list("person_id", "changed_at", "id")
    ):
        if pid not in latest or (at, hid) > latest[pid]:
            latest[pid] = (at, hid)
    handoff = {pid: at for pid, (at, _) in latest.items()}
    missing = [row[0] for row in found if row[0] not in latest]
    if missing:  # a lead at MQL without its move recorded (an old import) counts from its creation
        handoff.update(Person.objects.filter(pk__in=missing).values_list("id", "created_at"))
    if not handoff:
        return []
    first: dict[int, dt.datetime] = {}
    for pid, at in Activity.objects.filter(
        person_id__in=ids, kind__counts_as_touch=True, occurred_at__gte=min(handoff.values()), occurred_at__lte=moment
    ).values_list("person_id", "occurred_at"):
        since = handoff.get(pid)  # None: a lead that became an MQL after the first read
        if since is not None and at >= since and (pid not in first or at < first[pid]):
            first[pid] = at
    return [
        _Open(
            pid, owner, team, handoff[pid], latest[pid][1] if pid in latest else None, first.get(pid),
            probability, engagement, fit_grade, tier, name_key, email,
        )
        for pid, owner, team, probability, engagement, fit_grade, tier, name_key, email in found
        if pid in handoff  # a lead merged away between the reads is left out, not an error
    ]


def _inbox_sla(rows: list[_Open], policy: SlaPolicy, moment: dt.datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state codes into INBOX_STATES, deadlines in microseconds, business minutes left) for every row."""
    if not rows:
        return np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64), np.zeros(0)
    by_team = team_calendars()
    # One business timeline per owner's team calendar (teamless owners share the default calendar).
    teams = sorted({r.team_id if r.team_id in by_team else -1 for r in rows})
    slot = {t: k for k, t in enumerate(teams)}
    calendars = [calendar_for_team(by_team, t if t != -1 else None) for t in teams]
    batch = first_touch_batch(
        np.array([r.handoff_at.timestamp() for r in rows], dtype=np.float64),
        np.array([np.nan if r.touched_at is None else r.touched_at.timestamp() for r in rows], dtype=np.float64),
        np.array([slot[r.team_id if r.team_id in by_team else -1] for r in rows], dtype=np.int64),
        calendars,
        policy,
        moment,
    )
    assert batch.deadline_seconds is not None
    deadlines = np.round(batch.deadline_seconds * 1e6).astype(np.int64)
    return inbox_states(batch), deadlines, batch.minutes_left

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

    The rep is the lead's current owner; a touch is a logged activity of a kind that counts as a touch (a note
    does not); accepted means the
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
    # Only kinds that count as a touch (a note does not) are first touches and attempts.
    # Touches and stage changes before the period are before every hand-off in it, so never count: the
    # database leaves them out (a lead's whole history can be long).
    for pid, at in Activity.objects.filter(
        person_id__in=in_period, kind__counts_as_touch=True, occurred_at__gte=start
    ).values_list("person_id", "occurred_at"):
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
        person_id__in=in_period,
        to_stage__in=(*ACCEPTED_OR_LATER, Stage.DISQUALIFIED.value, Stage.RECYCLED.value),
        changed_at__gte=start,
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


def sla_scorecard_cached(*, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """``sla_scorecard`` as of this minute, from the report cache while the data version and the minute stand
    (open hand-offs age with the clock; team calendars and users are not in the data version, so a change to
    them shows within the minute)."""
    # Keyed by the minute, computed at the real clock: a truncated `now` would put a touch logged earlier in
    # this minute in the future (not yet counted), while the data version already says it is there.
    now = dt.datetime.now(dt.UTC)
    return report_cached_get(
        kind="sla_scorecard",
        params={"start": start, "end": end, "minute": now.replace(second=0, microsecond=0)},
        compute=lambda: sla_scorecard(start=start, end=end, now=now),
    )


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

    def public_holidays(self, years: range) -> list[tuple[dt.date, str]]:
        """The public holidays of the team's country and subdivision in `years` (none without a country)."""
        return public_holidays(self.calendar.country, self.calendar.subdivision, years)

    def upcoming(self, today: dt.date) -> list[tuple[dt.date, str]]:
        """The next five closed days: public holidays of the team's country and its extra days."""
        merged = dict(self.public_holidays(range(today.year, today.year + 2)))
        merged.update((d, name or merged.get(d, "")) for d, name in self.holidays)
        return sorted(h for h in merged.items() if h[0] >= today)[:5]

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
            "country": self.calendar.country,
            "subdivision": self.calendar.subdivision,
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


def notifications_page(*, user: Any, cursor: str = "", limit: int = PAGE_SIZE) -> KeysetPage:
    """A keyset page of a user's in-app notifications, newest first."""
    rows = Notification.objects.filter(user_id=getattr(user, "pk", None) or 0)
    return keyset_page(queryset=rows, order="notifications-newest", field="created_at", cursor=cursor, limit=limit)


# ---- proposals ----

PROPOSAL_PAGE_SIZE = 25
PROPOSAL_MAX_PAGE_SIZE = 100
PROPOSAL_STATUSES: tuple[str, ...] = tuple(ChangeProposal.Status.values)
_PROPOSAL_ORDER = "newest"


def _proposal_title(kind: str, stage: str) -> str:
    return f"{stage.upper()} definition" if kind == ChangeProposal.Kind.DEFINITION else str(ChangeProposal.Kind(kind).label)


def _user_name(user: Any) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _sentences(kind: str, stage: str, spec: Mapping[str, Any]) -> list[str]:
    if kind == ChangeProposal.Kind.DEFINITION:
        return definition_describe(Definition.from_dict({**spec, "name": stage, "version": 1}))
    if kind == ChangeProposal.Kind.ROUTING:
        return RoutingRules.from_dict(spec).describe()
    return SlaPolicy.from_dict(spec).describe()


@dataclass(frozen=True)
class ProposalView:
    """A proposal as the pages and the API show it: in words, with what it changes and whether it is stale."""

    proposal: ChangeProposal
    title: str
    version_in_force: int
    sentences: list[str] = field(default_factory=list)
    current_sentences: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def promotes(self) -> bool:
        """Publishing it promotes people at once (an MQL definition), so approval confirms how many."""
        return self.proposal.kind == ChangeProposal.Kind.DEFINITION and self.proposal.stage == Stage.MQL.value

    @property
    def stale(self) -> bool:
        """Open, but another version was published since it was proposed: approving it is refused."""
        p = self.proposal
        return p.status == ChangeProposal.Status.OPEN and p.base_version != self.version_in_force

    @property
    def proposed_by(self) -> str:
        return _user_name(self.proposal.proposed_by)

    @property
    def decided_by(self) -> str:
        return _user_name(self.proposal.decided_by)

    def to_dict(self, *, detail: bool = True) -> dict[str, Any]:
        p = self.proposal
        out: dict[str, Any] = {
            "id": p.pk,
            "kind": p.kind,
            "stage": p.stage,
            "title": self.title,
            "status": p.status,
            "reason": p.reason,
            "base_version": p.base_version,
            "version_in_force": self.version_in_force,
            "stale": self.stale,
            "proposed_by": self.proposed_by,
            "proposed_at": p.proposed_at.isoformat(),
            "decided_by": self.decided_by or None,
            "decided_at": p.decided_at.isoformat() if p.decided_at else None,
            "decision_reason": p.decision_reason,
            "published_version": p.published_version,
        }
        if detail:
            out.update(spec=p.spec, sentences=self.sentences, current_sentences=self.current_sentences, changes=self.changes)
        return out


def _versions_in_force() -> dict[tuple[str, str], int]:
    """(kind, stage) → version in force (0: none), in three queries."""
    out = {(ChangeProposal.Kind.DEFINITION.value, stage): 0 for stage in DEFINITION_NAMES}
    for stage, version in DefinitionVersion.objects.values("stage").annotate(v=Max("version")).values_list("stage", "v"):
        out[(ChangeProposal.Kind.DEFINITION.value, stage)] = version
    out[(ChangeProposal.Kind.ROUTING.value, "")] = RoutingConfig.objects.aggregate(v=Max("version"))["v"] or 0
    out[(ChangeProposal.Kind.SLA.value, "")] = SlaPolicyVersion.objects.aggregate(v=Max("version"))["v"] or 0
    return out


@dataclass(frozen=True)
class ProposalPage:
    """One keyset page of proposals, newest first."""

    items: list[ProposalView]
    next_cursor: str | None
    prev_cursor: str | None
    status: str
    kind: str


def proposals_page(*, status: str = "", kind: str = "", cursor: str = "", limit: int = PROPOSAL_PAGE_SIZE) -> ProposalPage:
    """Proposals newest first, filtered by status and kind, one keyset page at a time (five queries)."""
    if status and status not in PROPOSAL_STATUSES:
        raise ValidationFailed(f"status is one of {', '.join(PROPOSAL_STATUSES)}", field="status", value=status)
    if kind and kind not in ChangeProposal.Kind.values:
        raise ValidationFailed(f"kind is one of {', '.join(ChangeProposal.Kind.values)}", field="kind", value=kind)
    if not 1 <= limit <= PROPOSAL_MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit must be between 1 and {PROPOSAL_MAX_PAGE_SIZE}", field="limit", value=limit)
    qs = ChangeProposal.objects.select_related("proposed_by", "decided_by")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    boundary = cursor_decode(cursor, order=_PROPOSAL_ORDER) if cursor else None
    if boundary is None:
        rows = list(qs.order_by("-id")[: limit + 1])
    elif boundary.backward:
        rows = list(qs.filter(id__gt=boundary.id).order_by("id")[: limit + 1])
    else:
        rows = list(qs.filter(id__lt=boundary.id).order_by("-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    backward = boundary is not None and boundary.backward
    if backward:
        rows.reverse()
    versions = _versions_in_force() if rows else {}
    items = [ProposalView(p, _proposal_title(p.kind, p.stage), versions.get((p.kind, p.stage), 0)) for p in rows]
    has_next = bool(rows) and (True if backward else more)
    has_prev = bool(rows) and (more if backward else boundary is not None)
    return ProposalPage(
        items=items,
        next_cursor=cursor_encode(Cursor(_PROPOSAL_ORDER, str(rows[-1].pk), rows[-1].pk)) if has_next else None,
        prev_cursor=cursor_encode(Cursor(_PROPOSAL_ORDER, str(rows[0].pk), rows[0].pk, backward=True)) if has_prev else None,
        status=status,
        kind=kind,
    )


def proposals_open_count() -> int:
    """How many proposals wait for an approver (for the editors' pages)."""
    return ChangeProposal.objects.filter(status=ChangeProposal.Status.OPEN).count()


def proposal_get(*, proposal_id: int) -> ProposalView:
    """One proposal in words beside the version in force, with what it changes; NotFound naming the id."""
    p = (
        ChangeProposal.objects.select_related("proposed_by", "decided_by").filter(pk=proposal_id).first()
        if 0 < proposal_id <= MAX_ID
        else None
    )
    if p is None:
        raise NotFound(f"no proposal with id {proposal_id}", field="proposal_id", value=proposal_id)
    model: Any = {ChangeProposal.Kind.DEFINITION: DefinitionVersion, ChangeProposal.Kind.ROUTING: RoutingConfig}.get(
        ChangeProposal.Kind(p.kind), SlaPolicyVersion
    )
    current = spec_current(model=model, scope={"stage": p.stage} if p.stage else None)
    proposed = _sentences(p.kind, p.stage, p.spec)
    before = _sentences(p.kind, p.stage, current.spec) if current else []
    if p.kind == ChangeProposal.Kind.DEFINITION and current is not None:
        changes = definition_changes(Definition.from_dict(current.spec), Definition.from_dict({**p.spec, "name": p.stage, "version": 1}))
    else:
        changes = [f"Now: {line}" for line in proposed if line not in before] + [f"Was: {line}" for line in before if line not in proposed]
    return ProposalView(
        p,
        _proposal_title(p.kind, p.stage),
        current.version if current else 0,
        sentences=proposed,
        current_sentences=before,
        changes=changes,
    )


def proposal_approvers() -> dict[str, list[str]]:
    """Who may approve proposals besides superusers: the roles whose group has the permission, and the users
    granted it one by one (two queries)."""
    app, codename = APPROVE_PERM.split(".")
    groups = list(
        Group.objects.filter(permissions__content_type__app_label=app, permissions__codename=codename).order_by("name").values_list("name", flat=True)
    )
    users = list(
        get_user_model()
        .objects.filter(user_permissions__content_type__app_label=app, user_permissions__codename=codename)
        .order_by("username")
        .values_list("username", flat=True)
    )
    return {"roles": groups, "users": users}


# ---- the first touch one lead owes (the inbox offers it as a task when the MQL is accepted) ----


def person_first_touch(*, person_id: int, now: dt.datetime | None = None) -> FirstTouchStatus | None:
    """The first-touch SLA of a person's latest hand-off to sales under the policy in force and the owner's team
    calendar (deadline, met / pending / breached), or None when they were never an MQL."""
    moment = now or dt.datetime.now(dt.UTC)
    person = Person.objects.filter(pk=person_id).values_list("owner__team_id", flat=True)
    handoff = (
        StageChange.objects.filter(person_id=person_id, to_stage=Stage.MQL.value)
        .order_by("-changed_at", "-id")
        .values_list("changed_at", flat=True)
        .first()
    )
    if handoff is None or not person:
        return None
    touches = Activity.objects.filter(
        person_id=person_id, occurred_at__gte=handoff, occurred_at__lte=moment, kind__counts_as_touch=True
    ).values_list("occurred_at", flat=True)
    calendar = calendar_for_team(team_calendars(), person[0])
    return first_touch_status(handoff, list(touches), calendar, sla_policy_current(), moment)



# ---- personal data (tandem.privacy): what users were told about one person ----


def notifications_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """The in-app notifications about one person, oldest first, as plain values (the per-person export)."""
    return rows_plain(
        Notification.objects.filter(url=f"/people/{person_id}/")
        .order_by("created_at", "id")
        .values("id", "user_id", "kind", "text", "url", "created_at", "read_at")
    )
