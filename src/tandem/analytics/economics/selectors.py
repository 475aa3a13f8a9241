"""Reads for the unit-economics report: campaigns' spend, stage reach, won deals and scores, fed to economics.py.

Period filter (docs/reports.md, "Unit economics", says the same): spend is the campaigns' cost entries spent
on the period's days (the part inside it of an entry covering several days); stage counts are the people who reached the stage in the period; revenue
and ROI use the attribution report of the same period (journeys that end in it); LTV follows the customers
whose first purchase falls in the period.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from tandem.analytics.reports.selectors import (
    _CACHE,
    _CACHE_SIZE,
    ATTRIBUTION_BY,
    NO_CAMPAIGN,
    REPORT_MODELS,
    UNKNOWN,
    _day_bounds,
    report_cached,
    reports_fingerprint,
    stage_reach_get,
)
from tandem.campaigns.selectors import campaign_cost_spans
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Account, Deal, DealStage, Person
from tandem.scoring.selectors import person_expected_values, scores_fingerprint
from tandem.stats import economics
from tandem.stats.funnel import STAGES

EPOCH = dt.date(1970, 1, 1)
# LTV rows: per source (the report's channel / campaign, with spend and CAC) or per account field (no spend).
ACCOUNT_SEGMENTS: dict[str, str] = {"industry": "industry", "size_band": "size_band", "country": "country"}
LTV_SEGMENTS: tuple[str, ...] = ("source", *ACCOUNT_SEGMENTS)
COST_STAGE_INDEX = [STAGES.index(s) for s in economics.COST_STAGES]


def _day(value: dt.date) -> int:
    return (value - EPOCH).days


def _segment_valid(segment: str) -> None:
    if segment not in LTV_SEGMENTS:
        raise ValidationFailed(
            f"segment must be one of {', '.join(LTV_SEGMENTS)}, got {segment!r}", field="segment", value=segment
        )


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def campaign_spend_get(
    *, by: str, date_from: dt.date | None = None, date_to: dt.date | None = None, as_of: dt.date | None = None
) -> dict[str, float]:
    """Spend per channel or campaign name in the period: the campaigns' cost entries by the day they were spent
    (an entry covering several days spread evenly over them)."""
    names, costs, starts, ends = [], [], [], []
    # Summed by the database per key and span of days; only the spans cut by the period are split here.
    for key, first, last, amount in campaign_cost_spans(by=by, date_from=date_from, date_to=date_to):
        names.append((key or UNKNOWN) if by == "channel" else (key or NO_CAMPAIGN))
        costs.append(float(amount))
        starts.append(_day(first))
        ends.append(_day(last))
    spend = economics.spread_spend(
        cost=costs,
        start_day=starts,
        end_day=ends,
        window_from=None if date_from is None else _day(date_from),
        window_to=None if date_to is None else _day(date_to),
    )
    return economics.group_sum(names, spend)


Source = tuple[str, str, int | None]  # a person's original channel, original campaign name, account id


def _source(person: Source | None, by: str) -> str:
    if person is None:
        return UNKNOWN if by == "channel" else NO_CAMPAIGN
    return person[0] if by == "channel" else person[1]


def _people() -> dict[int, Source]:
    return {
        pid: (channel or UNKNOWN, campaign or NO_CAMPAIGN, account)
        for pid, channel, campaign, account in Person.objects.values_list(
            "id", "original_channel", "original_campaign__name", "account_id"
        )
    }


def _stage_counts(
    *, people: dict[int, Source], by: str, low: float, high: float
) -> tuple[dict[str, list[int]], set[int]]:
    """People per group reaching lead, MQL, SQL, customer in [low, high); and the ids of the period's leads."""
    ids, reached = stage_reach_get()
    groups = [_source(people.get(pid), by) for pid in ids]
    counts = economics.stage_counts(reached=reached, stage_index=COST_STAGE_INDEX, groups=groups, low=low, high=high)
    lead = reached[:, 0]
    in_period = ~np.isnan(lead) & (lead >= low) & (lead < high)
    return counts, {pid for pid, k in zip(ids, in_period.tolist(), strict=True) if k}


def _purchases(
    *, people: dict[int, Source], by: str, segment: str = "source"
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], list[str]]:
    """Won deals as purchases of customers (the account, else the person): ids, days, values, customer group.

    A customer's group is the source (channel / campaign) of the person on their first won deal, or, for an
    account segment, that field of the customer's account.
    """
    accounts: dict[int, str] = {}
    if segment != "source":
        field = ACCOUNT_SEGMENTS[segment]
        accounts = {aid: str(value or UNKNOWN) for aid, value in Account.objects.values_list("id", field)}
    customers: list[int] = []
    days: list[int] = []
    values: list[float] = []
    groups: list[str] = []
    group_of: dict[int, str] = {}
    for deal_id, pid, account, amount, closed in (
        Deal.objects.filter(stage=DealStage.WON, closed_at__isnull=False)
        .order_by("closed_at", "id")
        .values_list("id", "person_id", "account_id", "amount", "closed_at")
    ):
        if closed is None:  # excluded by the filter; narrows the type
            continue
        person = people.get(pid) if pid is not None else None
        buyer = account or (person[2] if person else None)
        # Accounts and people share no id space: people get negative ids, orphan deals a range of their own.
        customer = buyer if buyer else (-pid if pid else -(10**12) - deal_id)
        if customer not in group_of:
            group_of[customer] = _source(person, by) if segment == "source" else accounts.get(buyer or 0, UNKNOWN)
        customers.append(customer)
        days.append(_day(closed.astimezone(dt.UTC).date()))
        values.append(float(amount or 0))
        groups.append(group_of[customer])
    return np.asarray(customers, dtype=np.int64), np.asarray(days, dtype=np.int64), np.asarray(values), groups


def _expected_values(*, people: dict[int, Source], by: str, ids: set[int]) -> dict[str, tuple[float, int]]:
    """Per source group: the sum and number of scored expected values of the given people (read-only scoring)."""
    out: dict[str, tuple[float, int]] = {}
    for pid, value in person_expected_values():
        if pid not in ids or pid not in people or value is None:
            continue
        key = _source(people[pid], by)
        total, n = out.get(key, (0.0, 0))
        out[key] = (total + float(value), n + 1)
    return out


def ltv_report_get(
    *,
    by: str = "channel",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    horizon: int = economics.DEFAULT_HORIZON,
    margin: float = 1.0,
    as_of: dt.date | None = None,
    segment: str = "source",
    spend: dict[str, float] | None = None,
    people: dict[int, Source] | None = None,
) -> dict[str, Any]:
    """LTV from won deals (customer = the deal's account, else its person) with CAC, LTV:CAC and payback, per group.

    CAC here is per new customer of the same kind: spend in the period ÷ customers whose first purchase
    falls in it. Rows per source (segment "source": the channel or campaign of the person on a customer's
    first won deal, with its spend and CAC) or per account industry, size band or country (no spend there:
    campaign costs are not split by segment, so those rows carry LTV without CAC).
    """
    if by not in ATTRIBUTION_BY:
        raise ValidationFailed(f"by must be one of {', '.join(ATTRIBUTION_BY)}, got {by!r}", field="by", value=by)
    _segment_valid(segment)
    _day_bounds(date_from, date_to)
    as_of = as_of or _today()
    economics.ltv_report(customer=[], day=[], value=[], as_of_day=0, horizon=horizon, margin=margin)
    if spend is None:
        spend = campaign_spend_get(by=by, date_from=date_from, date_to=date_to, as_of=as_of)
    if people is None:
        people = _people()
    customers, days, values, groups = _purchases(people=people, by=by, segment=segment)
    options: dict[str, Any] = {
        "as_of_day": _day(as_of),
        "horizon": horizon,
        "margin": margin,
        "first_from": None if date_from is None else _day(date_from),
        "first_to": None if date_to is None else _day(date_to),
    }
    ltv = economics.ltv_report(customer=customers, day=days, value=values, **options)
    total_spend = sum(spend.values())
    cac = economics.ratio(total_spend, ltv["customers"])
    rows = []
    group_arr = np.asarray(groups, dtype=object)
    row_spend = spend if segment == "source" else {}
    for key in sorted(set(groups) | set(row_spend)):
        mask = group_arr == key if group_arr.size else np.zeros(0, dtype=bool)
        part = economics.ltv_report(customer=customers[mask], day=days[mask], value=values[mask], **options)
        part_cac = economics.ratio(row_spend[key], part["customers"]) if key in row_spend else None
        rows.append(
            {
                "key": key,
                "spend": round(row_spend[key], 2) if key in row_spend else None,
                "customers": part["customers"],
                "repeat_rate": part["repeat_rate"],
                "average_value": part["average_value"],
                "ltv": part["ltv"],
                "cac": part_cac,
                "ltv_to_cac": economics.ltv_to_cac(part["ltv"], part_cac),
                "payback_months": economics.payback_months(cac=part_cac, retention=part["retention"]),
            }
        )
    rows.sort(key=lambda r: (-(r["ltv"] or 0.0), r["key"]))
    return {
        **ltv,
        "by": by,
        "segment": segment,
        "as_of": as_of.isoformat(),
        "spend": round(total_spend, 2),
        "cac": cac,
        "ltv_to_cac": economics.ltv_to_cac(ltv["ltv"], cac),
        "payback_months": economics.payback_months(cac=cac, retention=ltv["retention"]),
        "rows": rows,
    }


def economics_report_get(
    *,
    by: str = "channel",
    model: str = "linear",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    horizon: int = economics.DEFAULT_HORIZON,
    margin: float = 1.0,
    bootstrap: int = 200,
    segment: str = "source",
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """Spend, cost per lead/MQL/SQL/customer, ROI under an attribution model, LTV, LTV:CAC, payback, lead value.

    segment: the LTV rows' grouping (source, industry, size_band or country), see ltv_report_get.
    """
    if by not in ATTRIBUTION_BY:
        raise ValidationFailed(f"by must be one of {', '.join(ATTRIBUTION_BY)}, got {by!r}", field="by", value=by)
    if model not in REPORT_MODELS:
        raise ValidationFailed(
            f"unknown attribution model {model!r}; choose one of {', '.join(REPORT_MODELS)}", field="model", value=model
        )
    _segment_valid(segment)
    low, high = _day_bounds(date_from, date_to)
    as_of = as_of or _today()
    # Validate the LTV options before any query.
    economics.ltv_report(customer=[], day=[], value=[], as_of_day=0, horizon=horizon, margin=margin)
    spend = campaign_spend_get(by=by, date_from=date_from, date_to=date_to, as_of=as_of)
    people = _people()
    counts, lead_ids = _stage_counts(people=people, by=by, low=low, high=high)
    cost_rows, cost_total = economics.cost_rows(spend=spend, counts=counts)
    attribution = report_cached(
        "attribution",
        model=model,
        by=by,
        half_life=None,
        bootstrap=bootstrap,
        date_from=date_from,
        date_to=date_to,
    )
    revenue = {r["key"]: float(r["revenue"]) for r in attribution["rows"]}
    conversions = {r["key"]: float(r["conversions"]) for r in attribution["rows"]}
    roi_rows = economics.roi_rows(spend=spend, revenue=revenue, conversions=conversions)

    ltv = ltv_report_get(
        by=by, date_from=date_from, date_to=date_to, horizon=horizon, margin=margin, as_of=as_of,
        segment=segment, spend=spend, people=people,
    )
    total_spend = sum(spend.values())
    leads = {key: n[0] for key, n in counts.items()}
    lead_value = economics.lead_value_rows(
        leads=leads, revenue=revenue, expected=_expected_values(people=people, by=by, ids=lead_ids)
    )
    total_revenue = float(attribution["total_revenue"])
    totals = {
        **{k: v for k, v in cost_total.items() if k != "key"},
        "revenue": round(total_revenue, 2),
        "roi": economics.ratio(total_revenue - total_spend, total_spend),
        "new_customers": ltv["customers"],
        "cac_new_customer": ltv["cac"],
        "ltv": ltv["ltv"],
        "ltv_to_cac": ltv["ltv_to_cac"],
        "payback_months": ltv["payback_months"],
        "value_per_lead": economics.ratio(total_revenue, cost_total["leads"]),
    }
    return {
        "by": by,
        "model": model,
        "date_from": None if date_from is None else date_from.isoformat(),
        "date_to": None if date_to is None else date_to.isoformat(),
        "as_of": as_of.isoformat(),
        "horizon": horizon,
        "margin": margin,
        "totals": totals,
        "costs": cost_rows,
        "roi": roi_rows,
        "ltv": ltv,
        "lead_value": lead_value,
    }


def _scores_fingerprint() -> tuple[Any, ...]:
    return scores_fingerprint()


def economics_report_cached(**params: Any) -> dict[str, Any]:
    """The unit-economics report, cached in this process until the data (or the day) change."""
    params.setdefault("as_of", _today())
    key = ("economics", tuple(sorted(params.items())), reports_fingerprint(), _scores_fingerprint())
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    report = economics_report_get(**params)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = report
    return report


# ---- the reports' tables, as pages, CSV downloads and `tandem report economics|ltv` show them ----

TABLES: dict[str, tuple[str, ...]] = {
    "costs": ("key", "spend", "leads", "mqls", "sqls", "customers", "cost_per_lead", "cost_per_mql", "cost_per_sql", "cac"),
    "roi": ("key", "spend", "conversions", "revenue", "roi"),
    "ltv": ("key", "spend", "customers", "repeat_rate", "average_value", "ltv", "cac", "ltv_to_cac", "payback_months"),
    "lead_value": ("key", "leads", "revenue", "value_per_lead", "expected_value", "scored"),
}


def table_rows(report: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The rows of one of the report's tables (costs, roi, ltv, lead_value); the costs table ends with the total."""
    if table not in TABLES:
        raise ValidationFailed(f"table must be one of {', '.join(TABLES)}, got {table!r}", field="table", value=table)
    if table == "costs":
        return [*report["costs"], {"key": "total", **report["totals"]}]
    if table == "ltv":
        rows: list[dict[str, Any]] = report["ltv"]["rows"]
        return rows
    rows = report[table]
    return rows


RETENTION_COLUMNS = ("month", "customers", "active", "retention", "revenue_per_customer", "cumulative_value")


def cohort_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per cohort with its retention in columns m0, m1, … (blank where not yet observed)."""
    width = max((len(c["retention"]) for c in report["cohorts"]), default=0)
    return [
        {"cohort": c["cohort"], "customers": c["customers"], "revenue": c["revenue"],
         **{f"m{k}": (c["retention"][k] if k < len(c["retention"]) else None) for k in range(width)}}
        for c in report["cohorts"]
    ]
