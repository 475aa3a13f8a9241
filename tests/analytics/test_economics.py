"""Unit economics on plain values: spend spread over days, cost per stage, ROI, cohort LTV and payback (by hand)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tandem.core.errors import ValidationFailed
from tandem.stats.economics import (
    cost_rows,
    last_complete_month,
    lead_value_rows,
    ltv_report,
    ltv_to_cac,
    payback_months,
    roi_rows,
    spread_spend,
    stage_counts,
)


def _d(text: str) -> int:
    return (dt.date.fromisoformat(text) - dt.date(1970, 1, 1)).days


def test_spend_is_spread_evenly_over_the_days_a_campaign_ran():
    # given 310 over days 0..30 (10 a day), 70 over days 5..11 (10 a day), 160 over days 25..40
    cost, start, end = [310.0, 70.0, 160.0], [0, 5, 25], [30, 11, 40]
    # when
    inside = spread_spend(cost=cost, start_day=start, end_day=end, window_from=10, window_to=19)
    whole = spread_spend(cost=cost, start_day=start, end_day=end)
    # then days 10..19: 10 days of the first, days 10 and 11 of the second, none of the third
    assert inside.tolist() == pytest.approx([100.0, 20.0, 0.0])
    assert whole.tolist() == pytest.approx([310.0, 70.0, 160.0])


def test_spend_refuses_a_campaign_that_ends_before_it_starts():
    # when / then
    with pytest.raises(ValidationFailed) as err:
        spread_spend(cost=[1.0], start_day=[5], end_day=[4])
    assert err.value.field == "end_day"


def test_stage_counts_count_people_who_reached_each_stage_in_the_period():
    # given reach times (lead, mql, sql, customer) of three people
    nan = np.nan
    reached = [[1.0, 2.0, 3.0, 4.0], [1.0, 5.0, nan, nan], [9.0, 9.0, 9.0, nan]]
    # when the period is [0, 4.5)
    counts = stage_counts(reached=reached, stage_index=[0, 1, 2, 3], groups=["a", "a", "b"], low=0.0, high=4.5)
    # then person 2's MQL at 5 and person 3's stages at 9 fall outside
    assert counts == {"a": [2, 1, 1, 1], "b": [0, 0, 0, 0]}


def test_cost_per_stage_divides_spend_by_people_and_is_none_without_people():
    # given
    spend = {"email": 100.0, "events": 50.0}
    counts = {"email": [10, 4, 2, 1], "direct": [5, 1, 0, 0]}
    # when
    rows, total = cost_rows(spend=spend, counts=counts)
    # then
    by_key = {r["key"]: r for r in rows}
    assert [r["key"] for r in rows] == ["email", "events", "direct"]
    assert by_key["email"] | {} == {
        "key": "email", "spend": 100.0, "leads": 10, "mqls": 4, "sqls": 2, "customers": 1,
        "cost_per_lead": 10.0, "cost_per_mql": 25.0, "cost_per_sql": 50.0, "cac": 100.0,
    }
    assert (by_key["events"]["cost_per_lead"], by_key["events"]["cac"]) == (None, None)
    assert (by_key["direct"]["cost_per_lead"], by_key["direct"]["cac"]) == (0.0, None)
    assert (total["spend"], total["leads"], total["customers"]) == (150.0, 15, 1)
    assert (total["cost_per_lead"], total["cost_per_mql"], total["cost_per_sql"], total["cac"]) == (10.0, 30.0, 75.0, 150.0)


def test_roi_is_revenue_minus_spend_over_spend():
    # when
    rows = roi_rows(
        spend={"email": 100.0, "events": 50.0},
        revenue={"email": 250.0, "direct": 30.0},
        conversions={"email": 1.5, "direct": 0.5},
    )
    # then
    assert [(r["key"], r["spend"], r["revenue"], r["roi"]) for r in rows] == [
        ("email", 100.0, 250.0, 1.5),
        ("direct", 0.0, 30.0, None),
        ("events", 50.0, 0.0, -1.0),
    ]


def _purchases() -> dict[str, list[int] | list[float]]:
    """Customer 1: 100 on 5 Jan, 50 on 10 Mar. Customer 2: 200 on 20 Jan. Customer 3: 300 on 1 Feb, 100 on 15 Feb."""
    return {
        "customer": [1, 2, 3, 3, 1],
        "day": [_d("2025-01-05"), _d("2025-01-20"), _d("2025-02-01"), _d("2025-02-15"), _d("2025-03-10")],
        "value": [100.0, 200.0, 300.0, 100.0, 50.0],
    }


def test_ltv_sums_revenue_per_customer_over_the_observed_months_of_each_cohort():
    # given March has fully passed: the January cohort is observed for months 0–2, February's for 0–1
    # when
    report = ltv_report(**_purchases(), as_of_day=_d("2025-03-31"))
    # then month 0: 700 over 3 customers; month 1: nobody bought; month 2: 50 over the 2 January customers
    assert (report["customers"], report["purchases"], report["revenue"]) == (3, 5, 750.0)
    assert report["average_value"] == 150.0
    assert report["purchases_per_customer"] == pytest.approx(5 / 3)
    assert (report["repeat_customers"], report["repeat_rate"]) == (2, pytest.approx(2 / 3))
    assert [(r["month"], r["customers"], r["active"]) for r in report["retention"]] == [(0, 3, 3), (1, 3, 0), (2, 2, 1)]
    assert [r["revenue_per_customer"] for r in report["retention"]] == pytest.approx([700 / 3, 0.0, 25.0])
    assert report["months_observed"] == 3
    assert report["ltv"] == pytest.approx(700 / 3 + 25.0)
    assert report["cohorts"] == [
        {"cohort": "2025-01", "customers": 2, "revenue": 350.0, "retention": [1.0, 0.0, 0.5]},
        {"cohort": "2025-02", "customers": 1, "revenue": 400.0, "retention": [1.0, 0.0]},
    ]


def test_ltv_applies_the_margin_and_ignores_months_not_yet_passed():
    # given March 30: March has not fully passed
    # when
    report = ltv_report(**_purchases(), as_of_day=_d("2025-03-30"), margin=0.5)
    # then months 0 and 1 only
    assert report["months_observed"] == 2
    assert report["ltv"] == pytest.approx(0.5 * 700 / 3)


def test_ltv_horizon_and_first_purchase_window():
    # when the horizon is one month, and when only February's first buyers count
    one = ltv_report(**_purchases(), as_of_day=_d("2025-03-31"), horizon=1)
    february = ltv_report(**_purchases(), as_of_day=_d("2025-03-31"), first_from=_d("2025-02-01"))
    # then
    assert one["ltv"] == pytest.approx(700 / 3)
    assert (february["customers"], february["ltv"]) == (1, pytest.approx(400.0))


def test_ltv_refuses_a_bad_horizon_or_margin():
    with pytest.raises(ValidationFailed) as err:
        ltv_report(**_purchases(), as_of_day=_d("2025-03-31"), horizon=0)
    assert err.value.field == "horizon"
    with pytest.raises(ValidationFailed) as err:
        ltv_report(**_purchases(), as_of_day=_d("2025-03-31"), margin=1.5)
    assert err.value.field == "margin"


def test_last_complete_month():
    # then the 31st of March completes March; the 30th does not
    assert last_complete_month(_d("2025-03-31")) == (2025 - 1970) * 12 + 2
    assert last_complete_month(_d("2025-03-30")) == (2025 - 1970) * 12 + 1


def test_payback_interpolates_within_the_month_that_recovers_cac():
    # given cumulative value per customer 700/3, 700/3, 775/3
    retention = ltv_report(**_purchases(), as_of_day=_d("2025-03-31"))["retention"]
    # then
    assert payback_months(cac=100.0, retention=retention) == pytest.approx(100 / (700 / 3))
    assert payback_months(cac=240.0, retention=retention) == pytest.approx(2 + (240 - 700 / 3) / 25)
    assert payback_months(cac=300.0, retention=retention) is None
    assert payback_months(cac=None, retention=retention) is None
    assert ltv_to_cac(258.0, 129.0) == 2.0
    assert ltv_to_cac(258.0, None) is None


def test_lead_value_is_attributed_revenue_per_lead_and_the_mean_expected_value():
    # when
    rows = lead_value_rows(
        leads={"email": 4, "events": 0},
        revenue={"email": 1000.0, "events": 50.0},
        expected={"email": (300.0, 3)},
    )
    # then
    assert rows == [
        {"key": "email", "leads": 4, "revenue": 1000.0, "value_per_lead": 250.0, "expected_value": 100.0, "scored": 3},
        {"key": "events", "leads": 0, "revenue": 50.0, "value_per_lead": None, "expected_value": None, "scored": 0},
    ]
