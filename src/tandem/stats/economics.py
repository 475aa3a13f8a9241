"""Unit economics: spend, cost per funnel stage, ROI, lifetime value and payback (pure numpy, no Django).

Decisions (docs/reports.md, "Unit economics", says the same for users):

- Spend: the campaigns' cost entries, each on the day it was spent; an entry covering several days (a monthly
  invoice, a cost known only as a campaign total) is spread evenly over them, first to last day inclusive. A
  period filter keeps the days inside the period: spend = amount × days inside / days covered.
- Cost per stage = spend ÷ the people who reached the stage in the period (lead, MQL, SQL, customer; a
  stage is reached when a stage change took the person there or past it, as in the funnel); CAC is the
  cost per customer. A cost is None when nobody reached the stage.
- ROI = (attributed revenue − spend) ÷ spend, None when there was no spend.
- LTV (cohort method): a customer's cohort is the calendar month of their first purchase. Month k of a
  customer is the calendar month k after their cohort month (month 0 holds the first purchase). For each k
  below the horizon, over the customers whose month k has fully passed (observed), revenue per customer
  R_k = their revenue in month k ÷ their number, retention r_k = the share of them who bought in month k.
  LTV = margin × Σ_{k < horizon} R_k (= margin × Σ r_k × average revenue of an active customer in month k).
  Months nobody has reached yet are not extrapolated: `months_observed` says how many were summed.
- Payback months: the months of margin revenue per customer needed to recover CAC, counting month 0 as the
  first month and interpolating linearly within a month; None when the horizon does not recover it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tandem.core.errors import ValidationFailed
from tandem.stats.constants import DEFAULT_HORIZON  # re-exported: `tandem report --help` reads it there

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

COST_STAGES: tuple[str, ...] = ("lead", "mql", "sql", "customer")
COST_COLUMNS: dict[str, str] = {
    "lead": "cost_per_lead",
    "mql": "cost_per_mql",
    "sql": "cost_per_sql",
    "customer": "cac",
}
MAX_HORIZON = 240


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator ÷ denominator, None when the denominator is not positive."""
    return None if denominator <= 0 else float(numerator) / float(denominator)


def spread_spend(
    *,
    cost: ArrayLike,
    start_day: ArrayLike,
    end_day: ArrayLike,
    window_from: int | None = None,
    window_to: int | None = None,
) -> FloatArray:
    """Each cost's part inside [window_from, window_to] (day numbers, inclusive), its amount spread evenly.

    start_day / end_day: the first and last day a cost covers (inclusive); end before start is refused.
    """
    c = np.asarray(cost, dtype=np.float64)
    s = np.asarray(start_day, dtype=np.int64)
    e = np.asarray(end_day, dtype=np.int64)
    if not c.shape == s.shape == e.shape or c.ndim != 1:
        raise ValidationFailed("cost, start_day and end_day need one value per campaign", field="cost", value=c.size)
    if np.any(e < s):
        bad = int(np.flatnonzero(e < s)[0])
        raise ValidationFailed("a campaign ends before it starts", field="end_day", value=int(e[bad]))
    if np.any(c < 0) or not np.all(np.isfinite(c)):
        raise ValidationFailed("costs must be finite and not negative", field="cost", value=None)
    low = s if window_from is None else np.maximum(s, window_from)
    high = e if window_to is None else np.minimum(e, window_to)
    inside = np.maximum(high - low + 1, 0)
    out: FloatArray = c * inside / (e - s + 1)
    return out


def group_sum(keys: Sequence[str], values: ArrayLike) -> dict[str, float]:
    """Sum of values per key."""
    out: dict[str, float] = {}
    for key, value in zip(keys, np.asarray(values, dtype=np.float64).tolist(), strict=True):
        out[key] = out.get(key, 0.0) + value
    return out


def stage_counts(
    *, reached: ArrayLike, stage_index: Sequence[int], groups: Sequence[str], low: float, high: float
) -> dict[str, list[int]]:
    """Per group, how many people reached each of the chosen stages at a time in [low, high).

    reached: (people × stages) reach times (NaN when never), as funnel.reach_times gives them;
    stage_index: the columns to count; groups: each person's group label.
    """
    r = np.asarray(reached, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != len(groups):
        raise ValidationFailed("reached needs one row per person", field="reached", value=r.shape)
    cols = r[:, list(stage_index)]
    inside = ~np.isnan(cols) & (cols >= low) & (cols < high)
    labels, code = np.unique(np.asarray(list(groups), dtype=object).astype(str), return_inverse=True)
    out: dict[str, list[int]] = {}
    for g, label in enumerate(labels.tolist()):
        out[label] = inside[code == g].sum(axis=0).astype(int).tolist()
    return out


def cost_rows(*, spend: dict[str, float], counts: dict[str, list[int]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per key (spend, people per stage, cost per stage), sorted by spend then key; and the total row."""

    def row(key: str, money: float, n: list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {"key": key, "spend": round(money, 2)}
        for stage, k in zip(COST_STAGES, n, strict=True):
            out[f"{stage}s"] = int(k)
        for stage, k in zip(COST_STAGES, n, strict=True):
            value = ratio(money, k)
            out[COST_COLUMNS[stage]] = None if value is None else round(value, 2)
        return out

    zero = [0] * len(COST_STAGES)
    keys = sorted(set(spend) | set(counts))
    rows = [row(k, spend.get(k, 0.0), counts.get(k, zero)) for k in keys]
    rows.sort(key=lambda r: (-float(r["spend"]), str(r["key"])))
    totals = [sum(counts.get(k, zero)[i] for k in keys) for i in range(len(COST_STAGES))]
    return rows, row("total", sum(spend.values()), totals)


def roi_rows(*, spend: dict[str, float], revenue: dict[str, float], conversions: dict[str, float]) -> list[dict[str, Any]]:
    """Per key: spend, attributed conversions and revenue, ROI = (revenue − spend) / spend (None without spend)."""
    rows: list[dict[str, Any]] = []
    for key in sorted(set(spend) | set(revenue)):
        money, rev = spend.get(key, 0.0), revenue.get(key, 0.0)
        roi = ratio(rev - money, money)
        rows.append(
            {
                "key": key,
                "spend": round(money, 2),
                "conversions": round(conversions.get(key, 0.0), 4),
                "revenue": round(rev, 2),
                "roi": None if roi is None else round(roi, 4),
            }
        )
    rows.sort(key=lambda r: (-r["revenue"], r["key"]))
    return rows


def month_index(days: ArrayLike) -> IntArray:
    """Calendar month number (months since 1970-01) of each day number (days since 1970-01-01)."""
    d = np.asarray(days, dtype=np.int64)
    months: IntArray = d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months


def month_label(month: int) -> str:
    """'YYYY-MM' of a month number."""
    return f"{1970 + month // 12}-{month % 12 + 1:02d}"


def last_complete_month(as_of_day: int) -> int:
    """The latest month fully passed on as_of_day (its own month when as_of_day is that month's last day)."""
    month = int(month_index([as_of_day])[0])
    next_month_first = int(np.datetime64(month_label(month + 1) + "-01", "D").astype(np.int64))
    return month if as_of_day + 1 >= next_month_first else month - 1


def ltv_report(
    *,
    customer: ArrayLike,
    day: ArrayLike,
    value: ArrayLike,
    as_of_day: int,
    horizon: int = DEFAULT_HORIZON,
    margin: float = 1.0,
    first_from: int | None = None,
    first_to: int | None = None,
) -> dict[str, Any]:
    """Repeat purchases, average value, retention by cohort and the cohort LTV of the purchases given.

    One entry per purchase: the customer (any integer id), its day number and value. first_from / first_to
    (day numbers, inclusive) keep only the customers whose first purchase falls inside them (their later
    purchases all count). Purchases after as_of_day are ignored.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or not 1 <= horizon <= MAX_HORIZON:
        raise ValidationFailed(f"horizon must be 1..{MAX_HORIZON} months, got {horizon!r}", field="horizon", value=horizon)
    if not 0.0 < float(margin) <= 1.0:
        raise ValidationFailed(f"margin must be in (0, 1], got {margin!r}", field="margin", value=margin)
    cust = np.asarray(customer, dtype=np.int64)
    days = np.asarray(day, dtype=np.int64)
    val = np.asarray(value, dtype=np.float64)
    if not cust.shape == days.shape == val.shape:
        raise ValidationFailed("customer, day and value need one entry per purchase", field="value", value=val.size)
    keep = days <= as_of_day
    cust, days, val = cust[keep], days[keep], val[keep]
    ids, inverse = np.unique(cust, return_inverse=True)
    first = np.full(ids.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, inverse, days)
    chosen = np.ones(ids.size, dtype=bool)
    if first_from is not None:
        chosen &= first >= first_from
    if first_to is not None:
        chosen &= first <= first_to
    sel = chosen[inverse]
    inverse, days, val = inverse[sel], days[sel], val[sel]
    remap = np.cumsum(chosen) - 1
    inverse = remap[inverse]
    first = first[chosen]
    n_customers = int(chosen.sum())
    purchases = np.bincount(inverse, minlength=n_customers)
    revenue = float(val.sum())
    cohort = month_index(first)
    offset = month_index(days) - cohort[inverse]
    end_month = last_complete_month(as_of_day)
    # Month k of a cohort is observed when the cohort's month + k has fully passed.
    observed_months = np.maximum(end_month - cohort + 1, 0)
    retention = []
    cumulative = 0.0
    months_observed = 0
    for k in range(horizon):
        eligible = observed_months > k
        n_k = int(eligible.sum())
        if n_k == 0:
            break
        in_k = (offset == k) & eligible[inverse]
        active = int(np.unique(inverse[in_k]).size)
        per_customer = float(val[in_k].sum()) / n_k
        cumulative += margin * per_customer
        months_observed += 1
        retention.append(
            {
                "month": k,
                "customers": n_k,
                "active": active,
                "retention": active / n_k,
                "revenue_per_customer": per_customer,
                "cumulative_value": cumulative,
            }
        )
    cohorts = []
    for c in np.unique(cohort).tolist():
        members = cohort == c
        size = int(members.sum())
        rates = []
        for k in range(min(int(observed_months[members][0]), horizon)):
            in_k = (offset == k) & members[inverse]
            rates.append(int(np.unique(inverse[in_k]).size) / size)
        cohorts.append(
            {
                "cohort": month_label(int(c)),
                "customers": size,
                "revenue": float(val[members[inverse]].sum()),
                "retention": rates,
            }
        )
    return {
        "customers": n_customers,
        "purchases": int(purchases.sum()),
        "revenue": revenue,
        "average_value": ratio(revenue, float(purchases.sum())),
        "purchases_per_customer": ratio(float(purchases.sum()), n_customers),
        "repeat_customers": int((purchases >= 2).sum()),
        "repeat_rate": ratio(float((purchases >= 2).sum()), n_customers),
        "horizon": int(horizon),
        "margin": float(margin),
        "months_observed": months_observed,
        "ltv": cumulative if months_observed else None,
        "retention": retention,
        "cohorts": cohorts,
    }


def payback_months(*, cac: float | None, retention: Sequence[dict[str, Any]]) -> float | None:
    """Months of margin revenue per customer to recover CAC (month 0 is the first month), linear within a month."""
    if cac is None:
        return None
    before = 0.0
    for row in retention:
        now = float(row["cumulative_value"])
        if now >= cac:
            step = now - before
            return float(row["month"]) + ((cac - before) / step if step > 0 else 0.0)
        before = now
    return None


def ltv_to_cac(ltv: float | None, cac: float | None) -> float | None:
    """LTV ÷ CAC, None when either is unknown or CAC is 0."""
    if ltv is None or cac is None or cac <= 0:
        return None
    return ltv / cac


def lead_value_rows(
    *,
    leads: dict[str, int],
    revenue: dict[str, float],
    expected: dict[str, tuple[float, int]],
) -> list[dict[str, Any]]:
    """Per source: leads, attributed revenue, revenue per lead, and the mean scored expected value (and n)."""
    rows: list[dict[str, Any]] = []
    for key in sorted(set(leads) | set(revenue)):
        n = leads.get(key, 0)
        rev = revenue.get(key, 0.0)
        per_lead = ratio(rev, n)
        total_ev, scored = expected.get(key, (0.0, 0))
        ev = ratio(total_ev, scored)
        rows.append(
            {
                "key": key,
                "leads": n,
                "revenue": round(rev, 2),
                "value_per_lead": None if per_lead is None else round(per_lead, 2),
                "expected_value": None if ev is None else round(ev, 2),
                "scored": scored,
            }
        )
    rows.sort(key=lambda r: (-float(r["value_per_lead"] or 0.0), str(r["key"])))
    return rows
