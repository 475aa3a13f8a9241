"""Reads for the honest-statistics pages: lead cohorts for control charts and segments, experiment counts.

The arithmetic lives in the pure modules (spc, segments, experiments); these functions only gather counts
with a handful of grouped queries and hand numpy arrays over.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import CharField, Count, F, Min, Q, Sum
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from tandem.analytics.statistics.models import Experiment, ExperimentAssignment
from tandem.analytics.statistics.options import (  # re-exported: `tandem report --help` reads them there
    SEGMENT_FIELDS,
    SEGMENT_METRICS,
    SPC_BY,
    SPC_METRICS,
)
from tandem.campaigns.models import Campaign
from tandem.core.erasure import rows_plain
from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.paging import PAGE_SIZE, keyset_page, page_dict
from tandem.core.periods import period_start
from tandem.core.reportcache import report_cached_get
from tandem.crm.models import Deal, DealStage, Person, StageChange
from tandem.stats import spc
from tandem.stats.experiments import VariantCounts, analyse_experiment, msprt_two_proportions
from tandem.stats.segments import SegmentReport, aggregate_segments, segment_report

LEAD_STAGES = ("lead", "mql", "sal", "sql", "opportunity", "customer")
MATURITY_QUANTILE = 0.8
METRIC_LABELS = {"volume": "lead volume", "mql_rate": "MQL rate", "sql_rate": "SQL rate", "win_rate": "win rate"}


@dataclass(frozen=True)
class LeadCohorts:
    """One row per lead: when they became a lead, MQL, SQL and customer (None when never), and their source."""

    person_ids: np.ndarray
    channel: list[str]
    campaign: list[str]
    lead_day: list[date]
    mql_day: list[date | None]
    sql_day: list[date | None]
    won_day: list[date | None]


def _day_parser() -> Any:
    """Text timestamp (UTC, as the database stores it) → local date; a plain slice when the site runs on UTC."""
    tz = timezone.get_current_timezone()
    if str(tz) == "UTC":
        return lambda text: date.fromisoformat(text[:10])

    def parse(text: str) -> date:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(tz).date()

    return parse


# Index in LEAD_STAGES from which a stage counts as having reached lead, MQL, SQL, customer.
_REACHED_FROM = (0, 1, 3, 5)


def lead_cohorts_load() -> LeadCohorts:
    """Every lead with the first day they reached lead, MQL, SQL and won (3 queries)."""
    # Timestamps come back as text: parsing 40,000 datetimes through the ORM would double the page time.
    day = _day_parser()
    order = {s: i for i, s in enumerate(LEAD_STAGES)}
    first: dict[int, list[date | None]] = {}
    rows = (
        StageChange.objects.filter(to_stage__in=LEAD_STAGES)
        .values("person_id", "to_stage")
        .annotate(at=Min(Cast("changed_at", CharField())))
        .values_list("person_id", "to_stage", "at")
    )
    for pid, stage, at in rows:
        d = day(at)
        o = order[stage]
        reached = first.get(pid)
        if reached is None:
            reached = first[pid] = [None, None, None, None]
        # Reaching a later stage counts as passing the earlier ones.
        for k, threshold in enumerate(_REACHED_FROM):
            if o >= threshold:
                current = reached[k]
                if current is None or d < current:
                    reached[k] = d
    for pid, at in (
        Deal.objects.filter(stage=DealStage.WON, person__isnull=False, closed_at__isnull=False)
        .values("person_id")
        .annotate(at=Min(Cast("closed_at", CharField())))
        .values_list("person_id", "at")
    ):
        reached = first.setdefault(pid, [None, None, None, None])
        d = day(at)
        if reached[3] is None or d < reached[3]:
            reached[3] = d
    ids: list[int] = []
    channel: list[str] = []
    campaign: list[str] = []
    lead_day: list[date] = []
    mql_day: list[date | None] = []
    sql_day: list[date | None] = []
    won_day: list[date | None] = []
    people = Person.objects.values_list(
        "id", "lifecycle_stage", "original_channel", "original_campaign__name", Cast("created_at", CharField())
    ).order_by("id")
    for pid, stage, ch, camp, created in people:
        reached = first.get(pid)
        if reached is None:
            if stage not in order:
                continue  # a subscriber (or recycled/disqualified without a lead move): not a lead
            reached = [None, None, None, None]
        ids.append(pid)
        channel.append(ch or "(none)")
        campaign.append(camp or "(none)")
        lead_day.append(reached[0] if reached[0] is not None else day(created))
        mql_day.append(reached[1])
        sql_day.append(reached[2])
        won_day.append(reached[3])
    return LeadCohorts(np.array(ids, dtype=np.int64), channel, campaign, lead_day, mql_day, sql_day, won_day)


def _period_start(d: date, period: str) -> date:
    return period_start(d, "week") if period == "week" else d  # the one week (tandem.core.periods)


def _maturity_days(starts: Sequence[date], ends: Sequence[date | None]) -> int:
    """The 80th percentile of the days from cohort entry to conversion (0 without conversions)."""
    lags = [(e - s).days for s, e in zip(starts, ends, strict=True) if e is not None and e >= s]
    return int(np.ceil(np.quantile(lags, MATURITY_QUANTILE))) if lags else 0


def _baseline_indices(starts: list[date], baseline: tuple[date, date] | None) -> tuple[int, int] | None:
    if baseline is None:
        return None
    lo = next((i for i, d in enumerate(starts) if d >= baseline[0]), len(starts))
    hi = next((i for i, d in enumerate(starts) if d > baseline[1]), len(starts))
    return (lo, hi) if hi > lo else None


def spc_maturity_days(*, metric: str, cohorts: LeadCohorts) -> int:
    """Days a cohort needs before its rate is judged: the 80th percentile of its conversions' delays (0 for volume)."""
    if metric == "volume":
        return 0
    starts: Sequence[date | None]
    ends: Sequence[date | None]
    if metric == "sql_rate":
        starts, ends = cohorts.mql_day, cohorts.sql_day
    else:
        starts, ends = cohorts.lead_day, (cohorts.mql_day if metric == "mql_rate" else cohorts.won_day)
    pairs = [(s, e) for s, e in zip(starts, ends, strict=True) if s is not None]
    return _maturity_days([p[0] for p in pairs], [p[1] for p in pairs])


def spc_chart(
    *,
    metric: str,
    by: str,
    period: str,
    baseline: tuple[date, date] | None = None,
    as_of: date | None = None,
    maturity_days: int | None = None,
    limit: int | None = None,
    cohorts: LeadCohorts | None = None,
) -> spc.ControlChart:
    """Control chart of one metric per channel, campaign or for all leads, with limits, signals and sentences.

    Rates are cohort-based: mql_rate and win_rate follow the leads of each period, sql_rate the MQLs of each
    period. Cohorts younger than ``maturity_days`` (default: the 80th percentile of the observed time to
    convert) are immature. ``limit`` keeps the series with the most leads.
    """
    if metric not in SPC_METRICS:
        raise ValidationFailed(f"metric must be one of {', '.join(SPC_METRICS)}", field="metric", value=metric)
    if by not in SPC_BY:
        raise ValidationFailed(f"by must be one of {', '.join(SPC_BY)}", field="by", value=by)
    if period not in spc.PERIOD_DAYS:
        raise ValidationFailed("period must be 'day' or 'week'", field="period", value=period)
    if maturity_days is not None and maturity_days < 0:
        raise ValidationFailed("maturity_days must not be negative", field="maturity_days", value=maturity_days)
    data = cohorts if cohorts is not None else lead_cohorts_load()
    today = as_of or timezone.localdate()
    if metric == "sql_rate":
        entry: list[date | None] = list(data.mql_day)
        outcome: list[date | None] = list(data.sql_day)
    else:
        entry = list(data.lead_day)
        outcome = list(data.mql_day if metric == "mql_rate" else data.won_day)
    keys = data.channel if by == "channel" else data.campaign if by == "campaign" else ["all"] * len(entry)
    if metric != "volume" and maturity_days is None:
        maturity_days = spc_maturity_days(metric=metric, cohorts=data)
    step = spc.PERIOD_DAYS[period]
    counts: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    first_day: date | None = None
    for key, s, e in zip(keys, entry, outcome, strict=True):
        if s is None or s > today:
            continue
        cell = counts[key][_period_start(s, period)]
        cell[0] += 1
        if e is not None and e <= today:
            cell[1] += 1
        first_day = s if first_day is None or s < first_day else first_day
    if first_day is None:
        return spc.control_chart(metric=metric, period=period, series=[])
    starts = []
    d = _period_start(first_day, period)
    while d <= today:
        starts.append(d)
        d += timedelta(days=step)
    base = _baseline_indices(starts, baseline)
    ranked = sorted(counts, key=lambda k: (-sum(c[0] for c in counts[k].values()), k))
    if limit is not None:
        ranked = ranked[:limit]
    series = []
    for key in ranked:
        trials = np.array([counts[key][s][0] if s in counts[key] else 0 for s in starts], dtype=np.float64)
        wins = np.array([counts[key][s][1] if s in counts[key] else 0 for s in starts], dtype=np.float64)
        label = f"{key.replace('_', ' ')} {METRIC_LABELS[metric]}" if by != "all" else METRIC_LABELS[metric]
        if metric == "volume" and period == "day":
            # Today is still filling up: it is immature (maturity 0 keeps only completed days).
            series.append(
                spc.u_chart_daily(key=key, days=starts, counts=trials, as_of=today, baseline=base, label=label)
            )
        elif metric == "volume":
            series.append(
                spc.xmr_chart(key=key, starts=starts, values=trials, period="week", as_of=today, baseline=base, label=label)
            )
        else:
            series.append(
                spc.p_chart(
                    key=key,
                    starts=starts,
                    successes=wins,
                    trials=trials,
                    period=period,  # type: ignore[arg-type]
                    as_of=today,
                    maturity_days=maturity_days or 0,
                    baseline=base,
                    label=label,
                )
            )
    return spc.control_chart(metric=metric, period=period, series=series)


def spc_chart_cached(
    *,
    metric: str,
    by: str,
    period: str,
    baseline: tuple[date, date] | None = None,
    as_of: date | None = None,
    maturity_days: int | None = None,
    limit: int | None = None,
) -> spc.ControlChart:
    """``spc_chart``, from the report cache while the data version and the day stand (core/reportcache.py)."""
    day = as_of or timezone.localdate()
    params = {
        "metric": metric, "by": by, "period": period, "baseline": baseline, "as_of": day,
        "maturity_days": maturity_days, "limit": limit,
    }  # fmt: skip
    return report_cached_get(
        kind="spc",
        params=params,
        compute=lambda: spc_chart(
            metric=metric, by=by, period=period, baseline=baseline, as_of=day, maturity_days=maturity_days, limit=limit
        ),
    )


@dataclass(frozen=True)
class SpcPage:
    """What the control-chart page shows: the chart (empty with `error` when it cannot be drawn) and the maturity."""

    chart: spc.ControlChart
    maturity_days: int
    error: str


def spc_page_get(*, metric: str, by: str, period: str, baseline: tuple[date, date] | None, limit: int) -> SpcPage:
    """The control-chart page's chart with the observed maturity, from the report cache while the data and day stand."""
    today = timezone.localdate()

    def compute() -> SpcPage:
        cohorts = lead_cohorts_load()
        maturity = spc_maturity_days(metric=metric, cohorts=cohorts)
        try:
            chart = spc_chart(
                metric=metric, by=by, period=period, baseline=baseline, as_of=today, limit=limit,
                maturity_days=maturity, cohorts=cohorts,
            )  # fmt: skip
        except TandemError as exc:
            return SpcPage(spc.control_chart(metric=metric, period=period, series=[]), maturity, exc.message)
        return SpcPage(chart, maturity, "")

    params = {"metric": metric, "by": by, "period": period, "baseline": baseline, "limit": limit, "today": today}
    return report_cached_get(kind="spc_page", params=params, compute=compute)


# ---------------------------------------------------------------------------------------------- segments


def _segment_columns(by: Sequence[str], lead_ids: set[int]) -> tuple[list[int], dict[str, list[Any]]]:
    fields = {
        "industry": "account__industry",
        "size_band": "account__size_band",
        "country": "account__country",
        "job_title": "job_title",
        "channel": "original_channel",
        "campaign": "original_campaign__name",
        "persona": "custom_fields",
    }
    wanted = [fields[b] for b in by]
    rows = Person.objects.filter(id__in=lead_ids).values_list("id", *wanted) if lead_ids else []
    ids: list[int] = []
    columns: dict[str, list[Any]] = {b: [] for b in by}
    for row in rows:
        ids.append(row[0])
        for b, v in zip(by, row[1:], strict=True):
            columns[b].append((v or {}).get("persona") if b == "persona" else v)
    return ids, columns


def _spend(by: str) -> dict[str, float]:
    key = "channel" if by == "channel" else "name"
    return {
        str(k): float(v or 0)
        for k, v in Campaign.objects.values(key).annotate(total=Sum("actual_cost")).values_list(key, "total")
    }


def segment_table(*, by: Sequence[str], metric: str, fdr: float = 0.05) -> SegmentReport:
    """Conversion (reached SQL, or won) of leads per value of one or two profile fields, ranked honestly."""
    by_t = tuple(by)
    for b in by_t:
        if b not in SEGMENT_FIELDS:
            raise ValidationFailed(f"unknown field {b!r}; choose from {', '.join(SEGMENT_FIELDS)}", field="by", value=b)
    if metric not in SEGMENT_METRICS:
        raise ValidationFailed("metric must be 'won' or 'sql'", field="metric", value=metric)
    if not 1 <= len(by_t) <= 2 or len(set(by_t)) != len(by_t):
        raise ValidationFailed("by must name one field or two different fields", field="by", value=",".join(by_t))
    reached_stages = ("customer",) if metric == "won" else ("sql", "opportunity", "customer")
    lead_ids = set(
        StageChange.objects.filter(to_stage__in=LEAD_STAGES).values_list("person_id", flat=True).distinct()
    ) | set(Person.objects.filter(lifecycle_stage__in=LEAD_STAGES).values_list("id", flat=True))
    converted_ids = set(
        StageChange.objects.filter(to_stage__in=reached_stages).values_list("person_id", flat=True).distinct()
    )
    if metric == "won":
        converted_ids |= set(
            Deal.objects.filter(stage=DealStage.WON, person__isnull=False).values_list("person_id", flat=True)
        )
    ids, columns = _segment_columns(by_t, lead_ids)
    converted = np.fromiter((i in converted_ids for i in ids), dtype=bool, count=len(ids))
    segments, trials, conversions = aggregate_segments(by=by_t, columns=columns, converted=converted)
    spend: list[float | None] | None = None
    if len(by_t) == 1 and by_t[0] in ("channel", "campaign"):
        costs = _spend(by_t[0])
        spend = [costs.get(s[by_t[0]]) for s in segments]
    return segment_report(
        by=by_t, metric=metric, segments=segments, trials=trials, conversions=conversions, spend=spend, fdr=fdr
    )


def segment_table_cached(*, by: Sequence[str], metric: str, fdr: float = 0.05) -> SegmentReport:
    """``segment_table``, from the report cache while the data version stands (core/reportcache.py)."""
    params = {"by": tuple(by), "metric": metric, "fdr": fdr}
    return report_cached_get(kind="segments", params=params, compute=lambda: segment_table(by=by, metric=metric, fdr=fdr))


# ------------------------------------------------------------------------------------------- experiments


def experiment_get(*, name: str) -> Experiment:
    """The experiment of this name, or NotFound."""
    try:
        return Experiment.objects.get(name=name)
    except Experiment.DoesNotExist:
        raise NotFound(f"no experiment named {name!r}", field="name", value=name) from None


def _experiment_dict(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": e.name,
        "subject_type": e.subject_type,
        "subject_label": e.get_subject_type_display(),
        "subject_ref": e.subject_ref,
        "metric": e.metric,
        "status": e.status,
        "variants": list(e.variants),
        "units": e.units,
        "created_at": e.created_at.isoformat(),
    }


def experiment_list() -> list[dict[str, Any]]:
    """Every experiment with its unit count, newest first (one query)."""
    return [_experiment_dict(e) for e in Experiment.objects.annotate(units=Count("assignments"))]


def experiment_page(*, cursor: str = "", limit: int = PAGE_SIZE) -> dict[str, Any]:
    """A keyset page of experiments with their unit counts, the latest defined first (the API's list)."""
    page = keyset_page(
        queryset=Experiment.objects.annotate(units=Count("assignments")), order="experiments", cursor=cursor, limit=limit
    )
    return page_dict(page, _experiment_dict)


def experiment_variant_counts(*, experiment: Experiment) -> list[VariantCounts]:
    """Units, conversions and revenue moments per variant, in the experiment's variant order (one query)."""
    revenue = experiment.metric == Experiment.Metric.REVENUE_PER_LEAD
    sums: dict[str, Any] = {"n": Count("id"), "conv": Count("id", filter=Q(converted=True))}
    if revenue:
        sums.update(rev=Sum("revenue"), rev2=Sum(F("revenue") * F("revenue")))
    rows: dict[str, dict[str, Any]] = {
        r["variant"]: dict(r)
        for r in ExperimentAssignment.objects.filter(experiment=experiment).values("variant").annotate(**sums)
    }
    names = list(experiment.variants) + sorted(set(rows) - set(experiment.variants))
    out = []
    for name in names:
        r: dict[str, Any] = rows.get(name) or {"n": 0, "conv": 0, "rev": None, "rev2": None}
        out.append(
            VariantCounts(
                name,
                int(r["n"]),
                int(r["conv"]),
                float(r.get("rev") or 0) if revenue else None,
                float(r.get("rev2") or 0) if revenue else None,
            )
        )
    return out


def experiment_daily(*, experiment: Experiment) -> tuple[list[date], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Days (UTC) with assignments and, per variant, cumulative (conversions, units) by day (one query)."""
    rows = list(
        ExperimentAssignment.objects.filter(experiment=experiment)
        # The UTC day as text: TruncDate runs a Python function per row on SQLite (1.7 s for 290,000 rows).
        .annotate(day=Substr(Cast("assigned_at", CharField()), 1, 10))
        .values("variant", "day")
        .annotate(n=Count("id"), conv=Count("id", filter=Q(converted=True)))
        .values_list("variant", "day", "n", "conv")
    )
    texts = sorted({r[1] for r in rows})
    index = {d: i for i, d in enumerate(texts)}
    days = [date.fromisoformat(d) for d in texts]
    per: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for variant, day, n, conv in rows:
        if variant not in per:
            per[variant] = (np.zeros(len(days), dtype=np.int64), np.zeros(len(days), dtype=np.int64))
        per[variant][0][index[day]] += conv
        per[variant][1][index[day]] += n
    return days, {v: (np.cumsum(c), np.cumsum(n)) for v, (c, n) in per.items()}


EXPERIMENT_METRIC_LABELS = {
    "sql_rate": "SQL rate",
    "won_rate": "win rate",
    "revenue_per_lead": "conversion rate",
    "clicks": "click rate",
}


def experiment_analyse(*, experiment: Experiment) -> dict[str, Any]:
    """The analysis (tests, Bayesian P(best), plan, verdict) and the daily sequential test, as plain data."""
    days, cumulative = experiment_daily(experiment=experiment)
    if experiment.metric == Experiment.Metric.REVENUE_PER_LEAD:
        counts = experiment_variant_counts(experiment=experiment)
    else:
        # Totals are the last cumulative counts: one query fewer over the assignments table.
        names = list(experiment.variants) + sorted(set(cumulative) - set(experiment.variants))
        counts = [
            VariantCounts(v, int(cumulative[v][1][-1]), int(cumulative[v][0][-1]))
            if v in cumulative
            else VariantCounts(v, 0, 0)
            for v in names
        ]
    populated = [c for c in counts if c.n > 0]
    out: dict[str, Any] = {
        "name": experiment.name,
        "subject_type": experiment.subject_type,
        "subject_ref": experiment.subject_ref,
        "metric": experiment.metric,
        "status": experiment.status,
        "minimum_effect": experiment.minimum_effect,
        "variants": [
            {"name": c.name, "n": c.n, "conversions": c.conversions, "rate": c.rate if c.n else None} for c in counts
        ],
        "analysis": None,
        "sequential": [],
    }
    if len(populated) < 2:
        out["verdict"] = "No analysis yet: at least two variants need assigned units."
        return out
    control = experiment.control if experiment.control in {c.name for c in populated} else populated[0].name
    analysis = analyse_experiment(
        variants=populated,
        metric=experiment.metric,
        minimum_effect=experiment.minimum_effect,
        control=control,
        alpha=experiment.alpha,
        power=experiment.power,
        metric_label=EXPERIMENT_METRIC_LABELS.get(experiment.metric),
    )
    out["analysis"] = analysis.to_dict()
    out["verdict"] = analysis.verdict
    xa, na = cumulative[control]
    for c in populated:
        if c.name == control:
            continue
        xb, nb = cumulative[c.name]
        seq = msprt_two_proportions(
            conversions_a=xa,
            trials_a=na,
            conversions_b=xb,
            trials_b=nb,
            tau=experiment.minimum_effect,
            alpha=experiment.alpha,
        )
        out["sequential"].append(
            {
                "variant": c.name,
                "control": control,
                "days": [d.isoformat() for d in days],
                **seq.to_dict(),
                "rejected_on": days[seq.rejected_at].isoformat() if seq.rejected_at is not None else None,
            }
        )
    return out


# ---- personal data (tandem.privacy): one person's places in experiments ----


def experiment_assignments_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """The experiments one person was a unit of, oldest first, as plain values (the per-person export)."""
    return rows_plain(
        ExperimentAssignment.objects.filter(person_id=person_id)
        .order_by("assigned_at", "id")
        .values("id", "experiment_id", "experiment__name", "unit_id", "variant", "assigned_at", "converted", "revenue")
    )
