"""Reads for the funnel and attribution reports: a few flat `values_list` queries turned into numpy arrays.

Period filters (docs/reports.md says the same):
- funnel: a person is in the report when they reached "lead" within [date_from, date_to];
- attribution: a journey is in the report when it ends within [date_from, date_to]; it ends at the close of
  the person's first won deal, or at their last touchpoint if they never won.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import CharField, F
from django.db.models.functions import Cast

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Deal, DealStage, Person, StageChange
from tandem.stats.attribution import DEFAULT_HALF_LIFE, Journeys, attribute
from tandem.stats.funnel import DAY, STAGES, funnel_report, reach_times

SEGMENT_FIELDS: dict[str, str] = {
    "channel": "original_channel",
    "campaign": "original_campaign__name",
    "industry": "account__industry",
    "size_band": "account__size_band",
    "country": "account__country",
    "job_title": "job_title",
    "owner": "owner__username",
}
ATTRIBUTION_BY: tuple[str, ...] = ("channel", "campaign")
PROFILE_FIELDS: tuple[str, ...] = ("account__industry", "account__size_band", "account__country")
NO_CAMPAIGN = "(no campaign)"
UNKNOWN = "(unknown)"


def _seconds(value: dt.datetime | None) -> float:
    return float("nan") if value is None else value.timestamp()


def when(field: str) -> Any:
    """The expression to select a datetime column by: on SQLite its stored UTC text (seconds_of parses all of
    it at once, ~3× faster than Django converting each row to an aware datetime), elsewhere the column."""
    if connection.vendor == "sqlite":
        return Cast(field, output_field=CharField())
    return F(field)


def seconds_of(values: list[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Seconds since the epoch of the values `when` selected."""
    if connection.vendor == "sqlite":
        micros = np.array(values, dtype="datetime64[us]").astype(np.int64)
        out: np.ndarray[Any, np.dtype[np.float64]] = micros / 1e6
        return out
    return np.fromiter((v.timestamp() for v in values), dtype=np.float64, count=len(values))


def _day_bounds(date_from: dt.date | None, date_to: dt.date | None) -> tuple[float, float]:
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed(f"date_from {date_from} is after date_to {date_to}", field="date_from", value=date_from)
    low = -np.inf if date_from is None else dt.datetime.combine(date_from, dt.time.min, dt.UTC).timestamp()
    high = np.inf if date_to is None else dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, dt.UTC).timestamp()
    return float(low), float(high)


def _segment_check(by: str) -> None:
    if by != "none" and by not in SEGMENT_FIELDS:
        choices = ", ".join((*SEGMENT_FIELDS, "none"))
        raise ValidationFailed(f"by must be one of {choices}, got {by!r}", field="by", value=by)


@dataclass(frozen=True)
class FunnelData:
    """Per person (rows aligned): reach times of the funnel stages and the segment label."""

    person_ids: list[int]
    reached: np.ndarray[Any, np.dtype[np.float64]]
    segments: list[str] | None


def stage_reach_get() -> tuple[list[int], np.ndarray[Any, np.dtype[np.float64]]]:
    """Everyone with a funnel stage change (ids ascending) and the seconds they reached each stage (one query)."""
    rows = list(
        StageChange.objects.filter(to_stage__in=STAGES)
        .order_by()
        .annotate(at_=when("changed_at"))
        .values_list("person_id", "to_stage", "at_")
    )
    ids = sorted({r[0] for r in rows})
    index = {pid: i for i, pid in enumerate(ids)}
    reached = reach_times(
        person=[index[r[0]] for r in rows],
        to_stage=[r[1] for r in rows],
        times=seconds_of([r[2] for r in rows]),
        n_people=len(ids),
    )
    return ids, reached


def funnel_data_get(*, by: str = "none", date_from: dt.date | None = None, date_to: dt.date | None = None) -> FunnelData:
    """Reach times of every person who reached "lead" (in the period) and their segment (two queries)."""
    _segment_check(by)
    ids, reached = stage_reach_get()
    low, high = _day_bounds(date_from, date_to)
    lead = reached[:, 0]
    keep = ~np.isnan(lead) & (lead >= low) & (lead < high)
    reached = reached[keep]
    ids = [pid for pid, k in zip(ids, keep.tolist(), strict=True) if k]
    segments: list[str] | None = None
    if by != "none":
        labels = dict(Person.objects.values_list("id", SEGMENT_FIELDS[by]))
        segments = [str(labels.get(pid) or UNKNOWN) for pid in ids]
    return FunnelData(person_ids=ids, reached=reached, segments=segments)


@dataclass(frozen=True)
class AttributionData:
    """The journeys of the report and, aligned with them, the person ids."""

    journeys: Journeys
    person_ids: list[int]


def attribution_journeys_get(
    *,
    by: str = "channel",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    with_profile: bool = False,
) -> AttributionData:
    """Every person's journey (touchpoints up to the close of their first won deal) keyed by channel or campaign.

    Converted = has a won deal; revenue = the amount of the first won deal. W-shaped milestones: the lead
    was created at the first stage change to lead or beyond (else the person's created_at), the opportunity
    at the first change to opportunity or customer (else the first deal's created_at); the milestone touch
    is the first touch at or after that moment. Profile (with_profile): one-hot industry, size band, country.
    """
    if by not in ATTRIBUTION_BY:
        raise ValidationFailed(f"by must be one of {', '.join(ATTRIBUTION_BY)}, got {by!r}", field="by", value=by)
    # Touchpoint's default order (occurred_at, id) is kept: it breaks ties between touches at the same time.
    touches = list(
        Touchpoint.objects.annotate(at_=when("occurred_at")).values_list("person_id", "channel", "campaign_id", "at_")
    )
    won: dict[int, tuple[float, float]] = {}
    for pid, amount, closed_at in (
        Deal.objects.filter(stage=DealStage.WON, person__isnull=False, closed_at__isnull=False)
        .order_by("closed_at", "id")
        .values_list("person_id", "amount", "closed_at")
    ):
        if pid not in won:
            won[pid] = (_seconds(closed_at), float(amount or 0))
    ids = sorted({t[0] for t in touches} | set(won))
    index = {pid: i for i, pid in enumerate(ids)}
    n = len(ids)
    jid = np.fromiter((index[t[0]] for t in touches), dtype=np.int64, count=len(touches))
    times = seconds_of([t[3] for t in touches])
    if by == "channel":
        raw = [t[1] or UNKNOWN for t in touches]
    else:
        names = dict(Campaign.objects.values_list("id", "name"))
        raw = [names.get(t[2], NO_CAMPAIGN) if t[2] else NO_CAMPAIGN for t in touches]
    keys = sorted(set(raw))
    key_code = {k: i for i, k in enumerate(keys)}
    codes = np.fromiter((key_code[k] for k in raw), dtype=np.int64, count=len(raw))
    cutoff = np.full(n, np.nan)
    revenue = np.zeros(n)
    for pid, (closed, value) in won.items():
        cutoff[index[pid]] = closed
        revenue[index[pid]] = value
    converted = ~np.isnan(cutoff)

    # A journey ends at its conversion, or at its last touch when it never converted.
    last_touch = np.full(n, -np.inf)
    np.maximum.at(last_touch, jid, times)
    end = np.where(converted, cutoff, last_touch)
    low, high = _day_bounds(date_from, date_to)
    keep = (end >= low) & (end < high)

    # The first change to lead-or-beyond and to opportunity-or-beyond: minima over each person's changes.
    changes = list(
        StageChange.objects.filter(to_stage__in=STAGES)
        .order_by()
        .annotate(at_=when("changed_at"))
        .values_list("person_id", "to_stage", "at_")
    )
    change_at = seconds_of([c[2] for c in changes])
    change_row = np.fromiter((index.get(c[0], -1) for c in changes), dtype=np.int64, count=len(changes))
    late = np.fromiter((c[1] in ("opportunity", "customer") for c in changes), dtype=bool, count=len(changes))
    known = change_row >= 0
    lead_at = np.full(n, np.inf)
    opp_at = np.full(n, np.inf)
    np.minimum.at(lead_at, change_row[known], change_at[known])
    np.minimum.at(opp_at, change_row[known & late], change_at[known & late])
    lead_at[np.isinf(lead_at)] = np.nan
    opp_at[np.isinf(opp_at)] = np.nan
    profile_rows: dict[int, tuple[Any, ...]] = {}
    missing_lead = [ids[i] for i in np.flatnonzero(np.isnan(lead_at) & keep).tolist()]
    need_people = bool(missing_lead) or with_profile
    if need_people:
        people = list(Person.objects.order_by().annotate(at_=when("created_at")).values_list("id", "at_", *PROFILE_FIELDS))
        created_at = seconds_of([p[1] for p in people])
        for (pid, _, *fields), created in zip(people, created_at.tolist(), strict=True):
            i = index.get(pid)
            if i is None:
                continue
            if np.isnan(lead_at[i]):
                lead_at[i] = created
            profile_rows[pid] = tuple(fields)
    if np.isnan(opp_at[keep]).any():
        for pid, created in Deal.objects.filter(person__isnull=False).order_by("created_at", "id").values_list(
            "person_id", "created_at"
        ):
            i = index.get(pid)
            if i is not None and np.isnan(opp_at[i]):
                opp_at[i] = _seconds(created)

    # Renumber the kept journeys 0..m-1 and drop the touches of the others.
    kept = np.flatnonzero(keep)
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[kept] = np.arange(kept.size)
    touch_keep = renumber[jid] >= 0 if jid.size else np.zeros(0, dtype=bool)
    tj = renumber[jid[touch_keep]]
    tt = times[touch_keep]
    profile = None
    if with_profile:
        profile = _one_hot([profile_rows.get(ids[i], ("", "", "")) for i in kept.tolist()])
    # Times in days, so the time-decay half-life is in days.
    journeys = Journeys.from_touches(
        keys=keys,
        journey=tj,
        codes=codes[touch_keep],
        times=tt / DAY,
        converted=converted[kept],
        revenue=revenue[kept],
        cutoff=cutoff[kept] / DAY,
        lead_touch=tt >= lead_at[kept][tj],
        opportunity_touch=tt >= opp_at[kept][tj],
        profile=profile,
    )
    return AttributionData(journeys=journeys, person_ids=[ids[i] for i in kept.tolist()])


def _one_hot(rows: list[tuple[Any, ...]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """One column per (field, value) seen, dropping each field's most common value (the baseline)."""
    columns: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for f in range(len(PROFILE_FIELDS)):
        values = np.asarray([str(r[f] or "") for r in rows], dtype=object)
        if not values.size:
            continue
        unique, inverse, counts = np.unique(values.astype(str), return_inverse=True, return_counts=True)
        baseline = int(np.argmax(counts))
        for u in range(unique.size):
            if u != baseline:
                columns.append((inverse == u).astype(np.float64))
    if not columns:
        return np.zeros((len(rows), 0))
    return np.column_stack(columns)


# ---------------------------------------------------------------------------------------------------------
# Whole reports (the shapes the CLI, the API and the pages share)

REPORT_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position",
    "w_shaped",
    "markov",
    "shapley",
    "incremental",
)
MODEL_LABELS: dict[str, str] = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position": "Position-based (40/20/40)",
    "w_shaped": "W-shaped",
    "markov": "Markov (removal effect)",
    "shapley": "Shapley",
    "incremental": "Incremental (model-based)",
}
_ENGINE_NAME = {"position": "position_based"}


def funnel_report_get(
    *, by: str = "none", period: str = "month", date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, Any]:
    """The funnel report dict (total, per cohort period, per segment) for the CLI, API and page."""
    data = funnel_data_get(by=by, date_from=date_from, date_to=date_to)
    return funnel_report(data.reached, segments=data.segments, period=period, by=by)


def attribution_report_get(
    *,
    model: str,
    by: str = "channel",
    half_life: float | None = None,
    bootstrap: int = 200,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    journeys: Journeys | None = None,
) -> dict[str, Any]:
    """The attribution report dict: model, by, totals and rows (the issue's JSON shape)."""

    if model not in REPORT_MODELS:
        raise ValidationFailed(
            f"unknown attribution model {model!r}; choose one of {', '.join(REPORT_MODELS)}", field="model", value=model
        )
    if journeys is None:
        journeys = attribution_journeys_get(
            by=by, date_from=date_from, date_to=date_to, with_profile=model == "incremental"
        ).journeys
    options: dict[str, Any] = {}
    if model == "time_decay" and half_life is not None:
        options["half_life"] = half_life
    if model == "incremental":
        options["bootstrap"] = bootstrap
    try:
        result = attribute(journeys, _ENGINE_NAME.get(model, model), **options)
    except ValidationFailed as exc:
        if model != "shapley":
            raise
        # The exact Shapley enumeration is bounded (63 keys overall, 20 per journey): say what to change.
        raise ValidationFailed(
            f"Shapley values cannot be computed by {by}: {exc.message}; or choose another model.",
            field="by",
            value=by,
        ) from exc
    out = result.to_dict(by=by)
    out["model"] = model
    if model == "time_decay":
        out["half_life"] = DEFAULT_HALF_LIFE if half_life is None else half_life
    if model == "incremental":
        out["bootstrap"] = bootstrap
    return out


_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}
_CACHE_SIZE = 64


def reports_fingerprint() -> tuple[Any, ...]:
    """A cheap summary that changes whenever the data behind the reports changes (one query per table)."""
    from django.db.models import Count, Max

    parts: list[Any] = []
    for model, field_name in ((Touchpoint, "id"), (StageChange, "id"), (Deal, "updated_at"), (Person, "updated_at"), (Campaign, "updated_at")):
        agg = model.objects.aggregate(n=Count("id"), last=Max(field_name))  # type: ignore[attr-defined]
        parts.extend((agg["n"], str(agg["last"])))
    return tuple(parts)


def report_cached(kind: str, **params: Any) -> dict[str, Any]:
    """The funnel or attribution report, cached in this process until the data's fingerprint changes."""
    key = (kind, tuple(sorted(params.items())), reports_fingerprint())
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    report = funnel_report_get(**params) if kind == "funnel" else attribution_report_get(**params)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = report
    return report


# Bootstrap resamples behind a page's intervals: enough for a stable interval, fast enough to open in a second.
PAGE_BOOTSTRAP = 20


# ---- the reports' rows, as pages, CSV downloads and `tandem report funnel|attribution` show them ----

ATTRIBUTION_COLUMNS = ("key", "conversions", "revenue", "conversions_low", "conversions_high", "removal_effect")


def attribution_columns(report: dict[str, Any]) -> list[str]:
    """The columns the report's rows carry (interval and removal-effect columns only where the model has them)."""
    present = set().union(*(r.keys() for r in report["rows"])) if report["rows"] else {"key"}
    return [c for c in ATTRIBUTION_COLUMNS if c in present or c in ("key", "conversions", "revenue")]


FUNNEL_CSV_COLUMNS = (
    "group", "key", "from", "to", "n", "converted", "rate", "rate_low", "rate_high", "days_median", "days_p80",
)


def funnel_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per (group, step): the total, then the cohorts, then the segments."""
    groups = [("total", report["total"])]
    groups += [("cohort", g) for g in report["cohorts"]]
    groups += [("segment", g) for g in report["segments"]]
    return [{"group": kind, "key": g["key"], **step} for kind, g in groups for step in g["steps"]]
