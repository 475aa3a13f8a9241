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
from django.db import connection

from tandem.analytics.economics.options import ACCOUNT_SEGMENTS, LTV_SEGMENTS, TABLES  # re-exported
from tandem.analytics.reports.selectors import (
    ATTRIBUTION_BY,
    NO_CAMPAIGN,
    REPORT_MODELS,
    UNKNOWN,
    _day_bounds,
    report_cached,
)
from tandem.campaigns.models import Campaign
from tandem.campaigns.selectors import campaign_cost_spans
from tandem.core.errors import ValidationFailed
from tandem.core.reportcache import report_cached_get
from tandem.crm.models import Deal, DealStage, Person, StageChange
from tandem.scoring.models import PersonScore
from tandem.stats import economics
from tandem.stats.funnel import STAGES

EPOCH = dt.date(1970, 1, 1)


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


def _period_sql(column: str, low: dt.datetime | None, high: dt.datetime | None) -> tuple[str, list[Any]]:
    """`column` (a reach time, NULL when never) inside [low, high), as SQL and its parameters."""
    parts, params = [f"{column} IS NOT NULL"], []
    for bound, op in ((low, ">="), (high, "<")):
        if bound is not None:
            parts.append(f"{column} {op} %s")
            params.append(connection.ops.adapt_datetimefield_value(bound))
    return "(" + " AND ".join(parts) + ")", params


def _stage_counts(
    *, by: str, date_from: dt.date | None, date_to: dt.date | None
) -> tuple[dict[str, list[int]], dict[str, tuple[float, int]]]:
    """Per source group, people reaching lead, MQL, SQL, customer in the period, and the sum and number of the
    scored expected values of the period's leads (one query, grouped by the database).

    Reaching a stage = the first change to it or any later funnel stage (funnel.reach_times); every group of a
    person with a funnel stage change has a row, even with nothing in the period (as the per-person arrays had).
    The stage filter is a HAVING, not a WHERE: SQLite then walks the person index in order instead of looking
    up every funnel row from the stage index (3x less work at a million people).
    """
    low = None if date_from is None else dt.datetime.combine(date_from, dt.time.min, dt.UTC)
    high = None if date_to is None else dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, dt.UTC)
    qn = connection.ops.quote_name
    stage_table, person_table = qn(StageChange._meta.db_table), qn(Person._meta.db_table)

    def stages_from(stage: str) -> str:
        return ", ".join(f"'{s}'" for s in STAGES[STAGES.index(stage) :])  # constants, not user input

    reach = ", ".join(
        f"MIN(CASE WHEN to_stage IN ({stages_from(stage)}) THEN changed_at END) AS r{i}"
        for i, stage in enumerate(economics.COST_STAGES)
    )
    counts_sql, params = [], []
    for i in range(len(economics.COST_STAGES)):
        cond, cond_params = _period_sql(f"r.r{i}", low, high)
        counts_sql.append(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)")
        params += cond_params
    lead_cond, lead_params = _period_sql("r.r0", low, high)
    if by == "channel":
        source, join = "p.original_channel", ""
    else:
        source = "c.name"
        join = f"LEFT JOIN {qn(Campaign._meta.db_table)} c ON c.id = p.original_campaign_id"
    sql = f"""
        SELECT {source}, {", ".join(counts_sql)},
               SUM(CASE WHEN {lead_cond} THEN s.expected_value END),
               COUNT(CASE WHEN {lead_cond} THEN s.expected_value END)
        FROM (SELECT person_id, {reach} FROM {stage_table} GROUP BY person_id HAVING MIN(
                  CASE WHEN to_stage IN ({stages_from(STAGES[0])}) THEN changed_at END) IS NOT NULL) r
        JOIN {person_table} p ON p.id = r.person_id
        {join}
        LEFT JOIN {qn(PersonScore._meta.db_table)} s ON s.person_id = r.person_id
        GROUP BY {source}
    """
    counts: dict[str, list[int]] = {}
    expected: dict[str, tuple[float, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *lead_params, *lead_params])
        for key, *row in cursor.fetchall():
            # "" and NULL are one group, as are a blank name and no campaign.
            name = (key or UNKNOWN) if by == "channel" else (key or NO_CAMPAIGN)
            n = [int(v or 0) for v in row[: len(economics.COST_STAGES)]]
            before = counts.get(name, [0] * len(n))
            counts[name] = [a + b for a, b in zip(before, n, strict=True)]
            total, scored = row[len(n)], int(row[len(n) + 1] or 0)
            if scored:
                was_total, was_scored = expected.get(name, (0.0, 0))
                expected[name] = (was_total + float(total), was_scored + scored)
    return counts, expected


def _purchases(
    *, by: str, segment: str = "source"
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], list[str]]:
    """Won deals as purchases of customers (the account, else the person): ids, days, values, customer group
    (one query over the won deals, their person and accounts).

    A customer's group is the source (channel / campaign) of the person on their first won deal, or, for an
    account segment, that field of the customer's account.
    """
    source = "person__original_channel" if by == "channel" else "person__original_campaign__name"
    fields = ["id", "person_id", "account_id", "person__account_id", "amount", "closed_at", source]
    if segment != "source":
        field = ACCOUNT_SEGMENTS[segment]
        fields += [f"account__{field}", f"person__account__{field}"]
    customers: list[int] = []
    days: list[int] = []
    values: list[float] = []
    groups: list[str] = []
    group_of: dict[int, str] = {}
    for deal_id, pid, account, person_account, amount, closed, label, *segment_values in (
        Deal.objects.filter(stage=DealStage.WON, closed_at__isnull=False)
        .order_by("closed_at", "id")
        .values_list(*fields)
    ):
        if closed is None:  # excluded by the filter; narrows the type
            continue
        buyer = account or (person_account if pid is not None else None)
        # Accounts and people share no id space: people get negative ids, orphan deals a range of their own.
        customer = buyer if buyer else (-pid if pid else -(10**12) - deal_id)
        if customer not in group_of:
            if segment == "source":
                # No person (label NULL) is an unknown source too.
                group_of[customer] = (label or UNKNOWN) if by == "channel" else (label or NO_CAMPAIGN)
            elif not buyer:
                group_of[customer] = UNKNOWN
            else:
                value = segment_values[0] if account else segment_values[1]
                group_of[customer] = str(value or UNKNOWN)
        customers.append(customer)
        days.append(_day(closed.astimezone(dt.UTC).date()))
        values.append(float(amount or 0))
        groups.append(group_of[customer])
    return np.asarray(customers, dtype=np.int64), np.asarray(days, dtype=np.int64), np.asarray(values), groups


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
    customers, days, values, groups = _purchases(by=by, segment=segment)
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
    _day_bounds(date_from, date_to)
    as_of = as_of or _today()
    # Validate the LTV options before any query.
    economics.ltv_report(customer=[], day=[], value=[], as_of_day=0, horizon=horizon, margin=margin)
    spend = campaign_spend_get(by=by, date_from=date_from, date_to=date_to, as_of=as_of)
    counts, expected = _stage_counts(by=by, date_from=date_from, date_to=date_to)
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
        segment=segment, spend=spend,
    )
    total_spend = sum(spend.values())
    leads = {key: n[0] for key, n in counts.items()}
    lead_value = economics.lead_value_rows(
        leads=leads, revenue=revenue, expected=expected
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


def economics_report_cached(**params: Any) -> dict[str, Any]:
    """The unit-economics report, from the report cache while the data version (scores included) and the day stand."""
    params.setdefault("as_of", _today())
    return report_cached_get(kind="economics", params=params, compute=lambda: economics_report_get(**params))


# ---- the reports' tables (TABLES, in tandem.analytics.economics.options), as pages and CSV downloads show them ----


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
