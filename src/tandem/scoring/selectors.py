"""Reads for scoring: the columnar input of the pure layer built from the database, rules, models, scores."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from django.db.models import Exists, F, OuterRef, QuerySet

from tandem.campaigns.models import Touchpoint
from tandem.core.erasure import rows_plain
from tandem.core.models import Event
from tandem.core.versioning import spec_current
from tandem.crm.models import Activity, Deal, DealStage, Person
from tandem.scoring.features import (
    LEAD_AGE,
    LEAKAGE_DENYLIST,
    EventTable,
    FeatureSpec,
    ScoringInput,
    inputs_repeat,
    landmark_rows,
    lead_age_days,
    normalise_field_name,
)
from tandem.scoring.models import ModelStatus, PersonScore, ScoringConfig, ScoringModel
from tandem.scoring.rules import EngagementConfig, FitConfig, FitRule
from tandem.users.access import access_seen

# Profile facts known when the lead arrives (the account's facts are the company's, not the deal's).
PROFILE_FIELDS: tuple[str, ...] = (
    "job_title",
    "channel",
    "campaign",
    "industry",
    "size_band",
    "country",
    "consent_email",
)
FIELD_LABELS: dict[str, str] = {
    "job_title": "Job title",
    "channel": "Source channel",
    "campaign": "First campaign",
    "industry": "Industry",
    "size_band": "Company size",
    "country": "Country",
    "consent_email": "Email consent",
}
# Rep activities are events too; prefixed so a rep's call is not mistaken for a marketing call touchpoint.
ACTIVITY_PREFIX = "rep_"
# A custom field becomes a feature when at least this share of people have it.
CUSTOM_FIELD_MIN_SHARE = 0.1

DEFAULT_FIT = FitConfig(
    rules=(
        FitRule("industry", "in", 20, ("Software", "Financial services"), label="Industry we sell best to"),
        FitRule("size_band", "in", 15, ("201-1000", "1001-5000", "5001+"), label="Company of 200+ people"),
        FitRule("job_title", "contains_any", 20, ("chief", "director", "head", "vp", "manager"), label="Decision maker"),
        FitRule("consent_email", "in", 5, ("yes",), label="Agreed to emails"),
    ),
    grade_minimums=(45.0, 30.0, 15.0),
)
DEFAULT_ENGAGEMENT = EngagementConfig(
    points_by_kind={
        "demo_request": 25,
        "webinar": 10,
        "form_submit": 8,
        "event_visit": 8,
        "content_download": 5,
        "email_click": 4,
        "ad_click": 2,
        "email_open": 1,
        "page_view": 1,
        "rep_meeting": 15,
        "rep_call": 5,
        "rep_email": 2,
    },
    half_life_days=30.0,
)


@dataclass(frozen=True)
class RulesInForce:
    version: int
    fit: FitConfig
    engagement: EngagementConfig
    cutoff_days: float


def scoring_rules_current() -> RulesInForce:
    """The latest saved fit and engagement rules, or the defaults (version 0) when none were saved."""
    row = spec_current(model=ScoringConfig)
    if row is None:
        return RulesInForce(0, DEFAULT_FIT, DEFAULT_ENGAGEMENT, 7.0)
    return RulesInForce(
        row.version, FitConfig.from_dict(row.fit), EngagementConfig.from_dict(row.engagement), row.cutoff_days
    )


def scoring_rules_history(*, limit: int = 20) -> list[ScoringConfig]:
    """Saved versions of the rules, newest first, with who saved them."""
    return list(ScoringConfig.objects.select_related("created_by").order_by("-version")[:limit])


@dataclass(frozen=True, eq=False)  # holds arrays
class ScoringDataset:
    """People of the database as the pure layer sees them, with their outcomes."""

    person_ids: np.ndarray
    emails: list[str]
    created: np.ndarray
    inputs: ScoringInput
    segments: list[str]
    won_at: np.ndarray
    won_amount: np.ndarray
    lost: np.ndarray
    custom_fields: tuple[str, ...]
    # When the first lost deal closed (NaN: never lost).
    lost_at: np.ndarray
    # Profile edits by person index: [(time, field, old value, new value)] in time order, from the
    # `person.updated` events (only loaded for training and full refreshes).
    changes: Mapping[int, list[tuple[float, str, Any, Any]]] = field(default_factory=dict)

    @property
    def closed(self) -> np.ndarray:
        return np.asarray(~np.isnan(self.won_at) | self.lost)

    def take(self, rows: np.ndarray) -> ScoringDataset:
        """The dataset restricted to ``rows`` (events re-indexed)."""
        rows = np.asarray(rows, dtype=np.int64)
        inputs = self.inputs
        remap = np.full(inputs.size, -1, dtype=np.int64)
        remap[rows] = np.arange(len(rows))
        events = inputs.events
        keep = remap[events.person] >= 0 if len(events) else np.zeros(0, dtype=bool)
        table = events.take(keep)
        table = EventTable(
            person=remap[table.person],
            time=table.time,
            kind=table.kind,
            channel=table.channel,
            campaign=table.campaign,
        )
        picked = rows.tolist()
        return self._rows(
            rows,
            ScoringInput(
                cutoffs=inputs.cutoffs[rows],
                profile={name: [column[i] for i in picked] for name, column in inputs.profile.items()},
                known_since={name: times[rows] for name, times in inputs.known_since.items()},
                events=table,
            ),
        )

    def _rows(self, rows: np.ndarray, inputs: ScoringInput) -> ScoringDataset:
        """The per-person columns at ``rows`` (a person may repeat), with ``inputs`` already built for them."""
        picked = rows.tolist()
        return ScoringDataset(
            person_ids=self.person_ids[rows],
            emails=[self.emails[i] for i in picked],
            created=self.created[rows],
            inputs=inputs,
            segments=[self.segments[i] for i in picked],
            won_at=self.won_at[rows],
            won_amount=self.won_amount[rows],
            lost=self.lost[rows],
            custom_fields=self.custom_fields,
            lost_at=self.lost_at[rows],
            changes={k: self.changes[i] for k, i in enumerate(picked) if i in self.changes},
        )

    def _profile_at(self, rows: Sequence[int], cutoffs: np.ndarray, profile: dict[str, Any]) -> dict[str, Any]:
        """Profile columns as they were at each cut-off: edits after it are undone, so they cannot leak."""
        if not self.changes:
            return profile
        out = {name: list(column) for name, column in profile.items()}
        for k, i in enumerate(rows):
            edits = self.changes.get(i)
            if not edits:
                continue
            cut = float(cutoffs[k])
            # The value at the cut-off: the last edit at or before it, else the value before the first edit.
            value_at: dict[str, Any] = {}
            for when, name, before, after in edits:  # in time order
                if name not in value_at:
                    value_at[name] = before
                if when <= cut:
                    value_at[name] = after
            for name, value in value_at.items():
                if name in out:
                    out[name][k] = _profile_value(name, value)
        return out

    def as_of(self, moment: float) -> ScoringDataset:
        """Everyone with the same cut-off ``moment`` (lead age recomputed): scored as they were then."""
        cutoffs = np.full(self.inputs.size, float(moment))
        profile = self._profile_at(range(self.inputs.size), cutoffs, dict(self.inputs.profile))
        profile[LEAD_AGE] = lead_age_days(self.created, cutoffs).tolist()
        inputs = ScoringInput(cutoffs=cutoffs, profile=profile, known_since=self.inputs.known_since, events=self.inputs.events)
        return replace(self, inputs=inputs)

    def at_landmarks(self, *, ages_days: Sequence[float], now: float) -> ScoringDataset:
        """One row per person and age reached while still open (see ``features.landmark_rows``), for training."""
        rows, cutoffs = landmark_rows(self.created, self.won_at, self.lost_at, ages_days=ages_days, now=now)
        inputs = inputs_repeat(self.inputs, rows, cutoffs)
        profile = self._profile_at(rows.tolist(), cutoffs, dict(inputs.profile))
        profile[LEAD_AGE] = lead_age_days(self.created[rows], cutoffs).tolist()
        return self._rows(
            rows,
            ScoringInput(cutoffs=inputs.cutoffs, profile=profile, known_since=inputs.known_since, events=inputs.events),
        )


CutoffRule = Literal["creation", "now"]
# Profile fields the model reads whose edits are dated (`person.updated` events). Edits written without
# an event (an import filling a blank) cannot be dated; the value is then taken as known from the start.
HISTORY_FIELDS = frozenset({"job_title", "consent_email"})


def _profile_value(name: str, value: Any) -> Any:
    """A stored edit's value in the form ``scoring_dataset`` gives the profile column."""
    if name == "consent_email":
        return "yes" if value else "no"
    return value or None


def _seconds(moment: dt.datetime) -> float:
    return moment.timestamp()


def scoring_dataset(
    *,
    person_ids: Sequence[int] | None = None,
    cutoff: CutoffRule = "now",
    window_days: float = 7.0,
    now: dt.datetime | None = None,
) -> ScoringDataset:
    """Profile, events and outcomes of people (all, or the given ids) in four queries.

    The cut-off is each person's creation time plus ``window_days`` (for training), or ``now`` (for
    scoring open leads); the pure layer drops every event after it.
    """
    people = Person.objects.order_by("id")
    touchpoints = Touchpoint.objects.all()
    activities = Activity.objects.all()
    deals = Deal.objects.filter(person__isnull=False, stage__in=[DealStage.WON, DealStage.LOST])
    if person_ids is not None:
        ids = list(person_ids)
        people = people.filter(id__in=ids)
        touchpoints = touchpoints.filter(person_id__in=ids)
        activities = activities.filter(person_id__in=ids)
        deals = deals.filter(person_id__in=ids)
    rows = list(
        people.values_list(
            "id",
            "email",
            "created_at",
            "job_title",
            "original_channel",
            "original_campaign__name",
            "account__industry",
            "account__size_band",
            "account__country",
            "consent_email",
            "custom_fields",
        )
    )
    size = len(rows)
    pid = np.fromiter((r[0] for r in rows), dtype=np.int64, count=size)
    created = np.fromiter((_seconds(r[2]) for r in rows), dtype=np.float64, count=size)
    counts: Counter[str] = Counter()
    for r in rows:
        if isinstance(r[10], dict):
            counts.update(k for k, v in r[10].items() if isinstance(v, str | int | float | bool) and v != "")
    custom = tuple(
        sorted(
            k
            for k, c in counts.items()
            if size and c >= CUSTOM_FIELD_MIN_SHARE * size and normalise_field_name(k) not in LEAKAGE_DENYLIST
            and normalise_field_name(k) not in {normalise_field_name(f) for f in (*PROFILE_FIELDS, LEAD_AGE)}
        )
    )
    profile: dict[str, list[object]] = {
        "job_title": [r[3] or None for r in rows],
        "channel": [r[4] or None for r in rows],
        "campaign": [r[5] or None for r in rows],
        "industry": [r[6] or None for r in rows],
        "size_band": [r[7] or None for r in rows],
        "country": [r[8] or None for r in rows],
        "consent_email": ["yes" if r[9] else "no" for r in rows],
    }
    for key in custom:
        profile[key] = [(r[10] or {}).get(key) if isinstance(r[10], dict) else None for r in rows]

    def index_of(person: np.ndarray) -> np.ndarray:
        if not size:
            return np.zeros(0, dtype=np.int64)
        at = np.searchsorted(pid, person)
        at = np.minimum(at, size - 1)
        return np.where(pid[at] == person, at, -1)

    tp = list(touchpoints.values_list("person_id", "occurred_at", "kind", "channel", "campaign__name"))
    ac = list(activities.values_list("person_id", "occurred_at", "kind"))
    ev_person = np.fromiter((t[0] for t in tp), dtype=np.int64, count=len(tp))
    ev_person = np.concatenate([ev_person, np.fromiter((a[0] for a in ac), dtype=np.int64, count=len(ac))])
    ev_time = np.fromiter((_seconds(t[1]) for t in tp), dtype=np.float64, count=len(tp))
    ev_time = np.concatenate([ev_time, np.fromiter((_seconds(a[1]) for a in ac), dtype=np.float64, count=len(ac))])
    kinds = [t[2] for t in tp] + [ACTIVITY_PREFIX + str(a[2]) for a in ac]
    channels = [t[3] for t in tp] + [""] * len(ac)
    campaigns = [t[4] or "" for t in tp] + [""] * len(ac)
    at = index_of(ev_person)
    known = at >= 0
    events = EventTable.build(
        person=at[known],
        time=ev_time[known],
        kind=np.asarray(kinds, dtype=object)[known],
        channel=np.asarray(channels, dtype=object)[known],
        campaign=np.asarray(campaigns, dtype=object)[known],
    )

    won_at = np.full(size, np.nan)
    won_amount = np.full(size, np.nan)
    lost = np.zeros(size, dtype=bool)
    lost_at = np.full(size, np.nan)
    for person, stage, closed_at, amount in deals.order_by("closed_at", "id").values_list(
        "person_id", "stage", "closed_at", "amount"
    ):
        i = int(index_of(np.array([person]))[0])
        if i < 0:
            continue
        if stage == DealStage.WON:
            if math.isnan(won_at[i]):
                # The first won deal is the outcome (later ones are expansions).
                won_at[i] = _seconds(closed_at) if closed_at else created[i]
                won_amount[i] = float(amount)
        elif not lost[i]:
            lost[i] = True
            lost_at[i] = _seconds(closed_at) if closed_at else created[i]

    moment = _seconds(now or dt.datetime.now(dt.UTC))
    if cutoff == "creation":
        cutoffs = np.minimum(created + window_days * 86_400.0, max(moment, float(created.max()) if size else moment))
    else:
        cutoffs = np.full(size, moment)
    changes: dict[int, list[tuple[float, str, Any, Any]]] = {}
    if cutoff == "creation" or person_ids is None:
        edits = Event.objects.filter(kind="person.updated", subject_type="crm.person").order_by("occurred_at", "id")
        for subject, when, data in edits.values_list("subject_id", "occurred_at", "data"):
            i = int(index_of(np.array([subject]))[0]) if subject is not None else -1
            if i < 0 or not isinstance(data, dict):
                continue
            for name, pair in (data.get("changes") or {}).items():
                if name in HISTORY_FIELDS and isinstance(pair, list) and len(pair) == 2:
                    changes.setdefault(i, []).append((_seconds(when), name, pair[0], pair[1]))
    # The lead's age at the cut-off, computed the same way for training snapshots and for scoring now.
    profile[LEAD_AGE] = lead_age_days(created, cutoffs).tolist()
    inputs = ScoringInput.build(cutoffs=cutoffs, profile=profile, events=events)
    return ScoringDataset(
        person_ids=pid,
        emails=[r[1] for r in rows],
        created=created,
        inputs=inputs,
        segments=[r[4] or "" for r in rows],
        won_at=won_at,
        won_amount=won_amount,
        lost=lost,
        custom_fields=custom,
        lost_at=lost_at,
        changes=changes,
    )


def feature_spec_for(*, rules: RulesInForce, custom_fields: Sequence[str]) -> FeatureSpec:
    """Which database facts become features (profile, custom fields, events) with plain-word labels."""
    labels = dict(FIELD_LABELS)
    for key in custom_fields:
        labels[key] = key.replace("_", " ").capitalize()
    labels[LEAD_AGE] = "Days since the lead arrived"
    labels["rule:fit"] = "Profile fit points"
    labels["rule:engagement"] = "Engagement score"
    return FeatureSpec(
        categorical=(*PROFILE_FIELDS, *custom_fields),
        numeric=(LEAD_AGE,),
        event_kinds=None,
        channels=None,
        windows_days=(7.0, 30.0),
        engagement=rules.engagement,
        fit=rules.fit,
        labels=labels,
        max_levels=30,
        min_level_count=20,
    )


def scoring_model_active() -> ScoringModel | None:
    """The active model version's row without its bytes (loaded on demand, cached by the services), or None."""
    return (
        ScoringModel.objects.filter(status=ModelStatus.ACTIVE)
        .defer("model_bytes", "evaluations", "feature_importance", "drift")
        .order_by("-created_at", "-id")
        .first()
    )


def scoring_models_list() -> QuerySet[ScoringModel]:
    """Model versions, newest first, without their bytes."""
    return ScoringModel.objects.defer("model_bytes").select_related("trained_by").order_by("-created_at", "-id")


def scoring_model_for_report() -> ScoringModel | None:
    """The active model, else the newest one (a refused model's metrics still deserve a look)."""
    active = ScoringModel.objects.defer("model_bytes").filter(status=ModelStatus.ACTIVE).first()
    return active or ScoringModel.objects.defer("model_bytes").order_by("-created_at", "-id").first()


def open_people() -> QuerySet[Person]:
    """People without a closed outcome (no won and no lost deal)."""
    closed = Deal.objects.filter(person=OuterRef("pk"), stage__in=[DealStage.WON, DealStage.LOST])
    return Person.objects.filter(~Exists(closed))


def person_score_get(*, person_id: int) -> PersonScore | None:
    """A person's latest stored score, or None."""
    return PersonScore.objects.filter(person_id=person_id).first()


QUEUE_ORDERS: dict[str, tuple[Any, ...]] = {
    "expected_value": (F("score__expected_value").desc(nulls_last=True), "-id"),
    "probability": (F("score__probability").desc(nulls_last=True), "-id"),
    "created": ("-created_at", "-id"),
}


def rep_queue(*, user: Any, order: str = "expected_value", limit: int = 100) -> list[Person]:
    """The rep's open scored leads, sorted by expected value (or probability, or newest), in one query."""
    ordering = QUEUE_ORDERS.get(order, QUEUE_ORDERS["expected_value"])
    queryset = open_people().filter(owner=user, score__isnull=False).select_related("score", "account")
    return list(queryset.order_by(*ordering)[:limit])


def value_by_source(*, limit: int = 20) -> list[dict[str, Any]]:
    """Average expected value of an open lead per source channel (the value of working one such lead)."""
    from django.db.models import Avg, Count

    rows = (
        PersonScore.objects.filter(expected_value__isnull=False)
        .values("person__original_channel")
        .annotate(leads=Count("person"), average=Avg("expected_value"), probability=Avg("probability"))
        .order_by("-average")[:limit]
    )
    return [
        {
            "channel": r["person__original_channel"] or "",
            "leads": r["leads"],
            "average_value": float(r["average"] or 0.0),
            "average_probability": float(r["probability"] or 0.0),
        }
        for r in rows
    ]


def factors_text(factors: dict[str, Any] | None) -> str:
    """'Source channel: Referral: +; Job title: Student: −' from stored factors (raising first)."""
    if not factors:
        return ""
    parts = [f"{f['text']}: +" for f in factors.get("raising", [])]
    parts += [f"{f['text']}: −" for f in factors.get("lowering", [])]
    return "; ".join(parts)


def export_rows(*, user: Any = None) -> Iterator[tuple[str, str, str, str, str]]:
    """email, probability, tier, expected value and top factors of every person without a closed outcome who
    consents to e-mail now: the export is an outreach list, so it honours consent (see `export_left_out`).
    Given a `user`, only the people they may see (`tandem score export` runs as the operator: everyone)."""
    rows = (
        access_seen(open_people(), user=user)
        .filter(consent_email=True)
        .order_by("id")
        .values_list("email", "score__probability", "score__tier", "score__expected_value", "score__factors")
    )
    for email, probability, tier, value, factors in rows.iterator(chunk_size=2000):
        yield (
            email,
            "" if probability is None else f"{probability:.4f}",
            tier or "",
            "" if value is None else f"{value:.2f}",
            factors_text(factors),
        )


def export_left_out() -> int:
    """How many people without a closed outcome the score export leaves out: no e-mail consent (or erased)."""
    return open_people().filter(consent_email=False).count()


def person_score_facts(*, person_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each scored person's fit grade, engagement and predictive probability, as definitions and routing read them."""
    if not person_ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = PersonScore.objects.filter(person_id__in=person_ids).values_list(
        "person_id", "fit_grade", "engagement", "probability"
    )
    for pid, grade, engagement, probability in rows:
        out[pid] = {"fit_grade": grade, "engagement_score": engagement, "predictive_probability": probability}
    return out


def people_rescored_since(*, since: dt.datetime, stages: Sequence[str], limit: int) -> list[int]:
    """People in these lifecycle stages whose score was written after `since` (the qualify sweep's watermark)."""
    return list(
        # updated_at is the wall-clock write time (indexed); scored_at is the score's as-of and may be older.
        PersonScore.objects.filter(updated_at__gt=since, person__lifecycle_stage__in=stages)
        .order_by()
        .values_list("person_id", flat=True)[:limit]
    )


def person_expected_values() -> Iterator[tuple[int, float | None]]:
    """(person id, expected value) of every person whose score carries one (unit economics' lead value)."""
    return iter(PersonScore.objects.filter(expected_value__isnull=False).values_list("person_id", "expected_value"))


# ---- personal data (tandem.privacy): one person's score ----


def person_score_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """The person's current score with its factors, as plain values (the per-person export)."""
    return rows_plain(
        PersonScore.objects.filter(person_id=person_id).values(
            "probability", "tier", "expected_value", "fit_grade", "fit_points", "engagement", "factors", "scored_at",
            "model__version",
        )
    )
